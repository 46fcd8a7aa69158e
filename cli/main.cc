// sds: the command line tool.
//
//   sds sim [SCENARIO.toml...] [--set key=value]... [--sweep key=a,b,c]... [--csv|--json]
//           [--plot DIR] [--cpu]           run the simulator (sim/simulation.h)
//   sds inspect FILE|- [--json] [--hex]    decode one wire message and show it
//   sds decode FILE|- [--hex]              wire bytes -> JSON
//   sds encode FILE|- [--dialect D] [--hex]  JSON -> wire bytes
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/plot.h"
#include "cli/wire_json.h"
#include "sds/codec.h"
#include "sim/report.h"
#include "sim/scenario.h"
#include "sim/simulation.h"

namespace {

using sds::sim::RunReport;
using sds::sim::Scenario;
using sds::sim::Settings;

int Fail(const std::string& message) {
  std::fprintf(stderr, "sds: %s\n", message.c_str());
  return 1;
}

bool ReadInput(const std::string& path, std::string& out) {
  if (path == "-") {
    out.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// Wire bytes from a file: raw, or hex text with --hex.
sds::Result<sds::Bytes> ReadWire(const std::string& path, bool hex) {
  std::string text;
  if (!ReadInput(path, text))
    return sds::Status(sds::ErrorCode::kInvalidArgument, "cannot read " + path);
  if (!hex) return sds::Bytes(text.begin(), text.end());
  std::string digits;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  return sds::cli::FromHex(digits);
}

void WriteWire(const sds::Bytes& bytes, bool hex) {
  if (hex) {
    std::cout << sds::cli::ToHex(bytes) << "\n";
  } else {
    std::cout.write(reinterpret_cast<const char*>(bytes.data()),
                    static_cast<std::streamsize>(bytes.size()));
  }
  std::cout.flush();
}

// ---- sim --------------------------------------------------------------------

struct SimArgs {
  std::vector<std::string> scenario_files;
  std::vector<std::string> sets;
  std::vector<std::string> sweeps;
  bool csv = false, json = false, cpu = false, list = false, summary = false;
  std::string plot_dir;
};

class Progress {
 public:
  explicit Progress(std::string label) : label_(std::move(label)), active_(::isatty(2) == 1) {}
  ~Progress() { Clear(); }
  void operator()(double now_s, double end_s) {
    if (!active_) return;
    auto wall = std::chrono::steady_clock::now();
    if (wall - begin_ < std::chrono::seconds(2) || wall - last_ < std::chrono::milliseconds(200))
      return;
    last_ = wall;
    double elapsed = std::chrono::duration<double>(wall - begin_).count();
    std::fprintf(stderr, "\r%s: %.0f / %.0f s virtual (%.0f%%), %.0f s elapsed   ", label_.c_str(),
                 now_s, end_s, end_s > 0 ? 100 * now_s / end_s : 100.0, elapsed);
    shown_ = true;
  }
  void Clear() {
    if (shown_) std::fprintf(stderr, "\r%*s\r", 79, "");
    shown_ = false;
  }

 private:
  std::string label_;
  bool active_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point begin_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_ = begin_;
};

bool SplitSetting(const std::string& text, std::string& key, std::string& value) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  key = text.substr(0, eq);
  value = text.substr(eq + 1);
  return true;
}

int RunSim(const SimArgs& args) {
  if (args.list) {
    for (const std::string& key : sds::sim::SettingKeys()) std::printf("%s\n", key.c_str());
    return 0;
  }
  // Several scenario files run one after the other (one summary line each).
  std::vector<Scenario> bases;
  std::vector<std::string> files = args.scenario_files;
  if (files.empty()) files.push_back("");
  for (const std::string& file : files) {
    Scenario base;
    if (!file.empty()) {
      auto loaded = sds::sim::LoadScenarioFile(file);
      if (!loaded.ok()) return Fail(loaded.status().message());
      base = *loaded;
    }
    for (const std::string& set : args.sets) {
      std::string key, value;
      if (!SplitSetting(set, key, value)) return Fail("--set expects key=value, got '" + set + "'");
      sds::Status status = sds::sim::ApplySetting(base, key, value);
      if (!status.ok()) return Fail(status.message());
    }
    bases.push_back(base);
  }
  // The grid: every combination of the sweep values, first key slowest.
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;
  for (const std::string& sweep : args.sweeps) {
    std::string key, values;
    if (!SplitSetting(sweep, key, values))
      return Fail("--sweep expects key=v1,v2,..., got '" + sweep + "'");
    std::vector<std::string> list;
    std::stringstream in(values);
    for (std::string v; std::getline(in, v, ',');) list.push_back(v);
    if (list.empty()) return Fail("--sweep " + key + " has no values");
    axes.emplace_back(key, list);
  }
  std::vector<Settings> grid = {Settings{}};
  for (const auto& [key, values] : axes) {
    std::vector<Settings> next;
    for (const Settings& partial : grid) {
      for (const std::string& v : values) {
        Settings s = partial;
        s.emplace_back(key, v);
        next.push_back(s);
      }
    }
    grid = next;
  }
  std::vector<std::pair<Settings, RunReport>> runs;
  for (const Scenario& base : bases) {
    for (const Settings& settings : grid) {
      Scenario scenario = base;
      for (const auto& [key, value] : settings) {
        sds::Status status = sds::sim::ApplySetting(scenario, key, value);
        if (!status.ok()) return Fail(status.message());
      }
      std::string label = "sds sim " + scenario.name;
      for (const auto& [key, value] : settings) label += " " + key + "=" + value;
      Progress progress(label);
      sds::sim::RunOptions options;
      options.measure_cpu = args.cpu;
      options.progress = [&progress](double now_s, double end_s) { progress(now_s, end_s); };
      auto report = sds::sim::RunScenario(scenario, options);
      progress.Clear();
      if (!report.ok()) return Fail(report.status().message());
      runs.emplace_back(settings, std::move(*report));
    }
  }
  if (args.json) {
    std::cout << sds::sim::FormatJson(runs);
  } else if (args.csv) {
    std::cout << sds::sim::FormatCsv(runs);
  } else if (runs.size() == 1 && !args.summary) {
    std::cout << sds::sim::FormatTable(runs.front().second);
  } else {
    std::cout << sds::sim::FormatSummaryTable(runs);
  }
  std::cout.flush();
  if (!args.plot_dir.empty()) {
    auto images = sds::cli::WritePlots(args.plot_dir, runs);
    if (!images.ok()) return Fail(images.status().message());
    std::fprintf(stderr, "plots:\n");
    for (const std::string& path : *images) std::fprintf(stderr, "  %s\n", path.c_str());
  }
  bool invariants_hold = true;
  for (const auto& [settings, r] : runs) {
    if (r.duplicate_deliveries || r.causal_violations || r.rejected) invariants_hold = false;
  }
  if (!invariants_hold) return Fail("an engine invariant was violated (see the table)");
  return 0;
}

// ---- inspect / encode / decode ----------------------------------------------

int RunInspect(const std::string& path, bool json, bool hex) {
  auto bytes = ReadWire(path, hex);
  if (!bytes.ok()) return Fail(bytes.status().message());
  auto inspected = sds::cli::DecodeForInspection(sds::SharedBytes(std::move(*bytes)));
  if (!inspected.ok()) return Fail("cannot decode: " + inspected.status().ToString());
  if (!inspected->note.empty()) std::fprintf(stderr, "note: %s\n", inspected->note.c_str());
  if (json) {
    std::cout << sds::cli::MessageToJson(inspected->message).dump(2) << "\n";
  } else {
    std::cout << sds::cli::DescribeMessage(inspected->message);
  }
  return 0;
}

int RunEncode(const std::string& path, const std::string& dialect, bool hex) {
  std::string text;
  if (!ReadInput(path, text)) return Fail("cannot read " + path);
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Fail(path + ": not valid JSON");
  std::optional<sds::Dialect> forced;
  if (dialect == "nim") forced = sds::Dialect::kNim;
  if (dialect == "spec") forced = sds::Dialect::kSpec;
  auto bytes = sds::cli::EncodeJson(json, forced);
  if (!bytes.ok()) return Fail(bytes.status().message());
  if (!hex && ::isatty(1))
    return Fail("refusing to write binary to a terminal (use --hex or redirect)");
  WriteWire(*bytes, hex);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Every received copy of an ~19 KB message is one allocation of that size in
  // the receiving engine; keeping freed memory in the process instead of
  // handing it back to the kernel saves a quarter of a simulation's time.
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 256 << 20);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  CLI::App app{"sds: Scalable Data Sync tools (simulator, wire inspector, encoder)"};
  app.require_subcommand(1);

  SimArgs sim;
  CLI::App* sim_cmd = app.add_subcommand(
      "sim", "Run the simulator: N real engines on virtual time over a lossy network");
  sim_cmd->add_option("scenario", sim.scenario_files,
                      "scenario files (TOML, see scenarios/); several give one summary line each");
  sim_cmd->add_option("--set", sim.sets, "key=value: change one setting (see --list-settings)")
      ->allow_extra_args(false);
  sim_cmd->add_option("--sweep", sim.sweeps, "key=v1,v2,...: run every combination of values")
      ->allow_extra_args(false);
  std::string participants, loss, seed, recovery, dialect_flag, duration, rate;
  sim_cmd->add_option("-n,--participants", participants, "group size (participants=)");
  sim_cmd->add_option("--loss", loss, "uniform loss per copy, 0..1 or 5% (link.loss=)");
  sim_cmd->add_option("--seed", seed, "random seed (seed=)");
  sim_cmd->add_option("--recovery", recovery, "sds | sds-r | sds-r-store (recovery=)");
  sim_cmd->add_option("--dialect", dialect_flag, "nim | spec (config.dialect=)");
  sim_cmd->add_option("--duration", duration,
                      "how long participants send, e.g. 10m (traffic.duration=)");
  sim_cmd->add_option("--rate", rate, "messages per second per participant (traffic.rate=)");
  sim_cmd->add_flag("--csv", sim.csv, "CSV on stdout");
  sim_cmd->add_flag("--json", sim.json, "JSON on stdout");
  sim_cmd->add_flag("--summary", sim.summary, "one Markdown table line per run, even for one run");
  sim_cmd->add_option("--plot", sim.plot_dir, "write PNG and SVG plots (gnuplot) into DIR");
  sim_cmd->add_flag("--cpu", sim.cpu, "measure engine time per message (not deterministic)");
  sim_cmd->add_flag("--list-settings", sim.list, "print every settable key and exit");

  std::string inspect_path = "-";
  bool inspect_json = false, inspect_hex = false;
  CLI::App* inspect_cmd =
      app.add_subcommand("inspect", "Decode a wire message (either dialect) and show it");
  inspect_cmd->add_option("file", inspect_path, "file with the wire bytes, or - for stdin");
  inspect_cmd->add_flag("--json", inspect_json, "print JSON (the form `sds encode` reads)");
  inspect_cmd->add_flag("--hex", inspect_hex, "the input is hex text");

  std::string decode_path = "-";
  bool decode_hex = false;
  CLI::App* decode_cmd = app.add_subcommand("decode", "Wire bytes to JSON");
  decode_cmd->add_option("file", decode_path, "file with the wire bytes, or - for stdin");
  decode_cmd->add_flag("--hex", decode_hex, "the input is hex text");

  std::string encode_path = "-", encode_dialect;
  bool encode_hex = false;
  CLI::App* encode_cmd = app.add_subcommand("encode", "JSON (as printed by decode) to wire bytes");
  encode_cmd->add_option("file", encode_path, "JSON file, or - for stdin");
  encode_cmd->add_option("--dialect", encode_dialect, "nim | spec: override the JSON's dialect")
      ->check(CLI::IsMember({"nim", "spec"}));
  encode_cmd->add_flag("--hex", encode_hex, "write hex text instead of raw bytes");

  CLI11_PARSE(app, argc, argv);

  if (*sim_cmd) {
    auto flag = [&](const char* key, const std::string& value) {
      if (!value.empty()) sim.sets.insert(sim.sets.begin(), std::string(key) + "=" + value);
    };
    // Flags apply after the file and before --set; the dialect first of all
    // (it resets the engine config).
    flag("traffic.rate", rate);
    flag("traffic.duration", duration);
    flag("recovery", recovery);
    flag("seed", seed);
    flag("link.loss", loss);
    flag("participants", participants);
    flag("config.dialect", dialect_flag);
    return RunSim(sim);
  }
  if (*inspect_cmd) return RunInspect(inspect_path, inspect_json, inspect_hex);
  if (*decode_cmd) return RunInspect(decode_path, true, decode_hex);
  if (*encode_cmd) return RunEncode(encode_path, encode_dialect, encode_hex);
  return 2;
}
