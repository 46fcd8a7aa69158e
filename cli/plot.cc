#include "cli/plot.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace sds::cli {
namespace {

std::string Label(const sim::Settings& settings, const sim::RunReport& report) {
  if (settings.empty()) return report.scenario;
  std::string label;
  for (const auto& [key, value] : settings) {
    std::string shortkey = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
    label += (label.empty() ? "" : " ") + shortkey + "=" + value;
  }
  return label;
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<std::vector<std::string>> WritePlots(
    const std::string& dir, const std::vector<std::pair<sim::Settings, sim::RunReport>>& runs) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::create_directories(dir, error);
  if (error)
    return Status(ErrorCode::kInvalidArgument, "cannot create " + dir + ": " + error.message());
  if (runs.empty()) return std::vector<std::string>{};

  // Data: one file per run for the CDF and the timeline; one for the bars.
  for (size_t i = 0; i < runs.size(); ++i) {
    const sim::RunReport& r = runs[i].second;
    std::ofstream cdf(dir + "/latency-" + std::to_string(i) + ".dat");
    const auto& points = r.latency_cdf_points;
    for (size_t k = 0; k < points.size(); ++k) {
      // Fraction of all pairs (undelivered ones included) delivered within t.
      double share =
          points.size() < 2 ? 1.0 : static_cast<double>(k) / static_cast<double>(points.size() - 1);
      double of_all = share * static_cast<double>(r.delivered) /
                      static_cast<double>(std::max<uint64_t>(r.pairs, 1));
      cdf << std::max(points[k], 0.001) << " " << of_all << "\n";
    }
    std::ofstream timeline(dir + "/delivery-" + std::to_string(i) + ".dat");
    for (const auto& sample : r.timeline) {
      double share = sample.sent_pairs == 0 ? 1.0
                                            : static_cast<double>(sample.delivered_pairs) /
                                                  static_cast<double>(sample.sent_pairs);
      timeline << sample.t << " " << share << "\n";
    }
  }
  {
    std::ofstream bars(dir + "/overhead.dat");
    bars << "run payload bloom history repair-requests header\n";
    for (const auto& [settings, r] : runs) {
      sim::WireTraffic t = r.Total();
      double m = static_cast<double>(std::max<uint64_t>(r.messages_sent, 1));
      bars << Quote(Label(settings, r)) << " " << static_cast<double>(t.payload_bytes) / m << " "
           << static_cast<double>(t.bloom_bytes) / m << " "
           << static_cast<double>(t.history_bytes) / m << " "
           << static_cast<double>(t.repair_request_bytes) / m << " "
           << static_cast<double>(t.header_bytes) / m << "\n";
    }
    std::ofstream sweep(dir + "/sweep.dat");
    for (size_t i = 0; i < runs.size(); ++i) {
      sim::DerivedMetrics d = sim::Derive(runs[i].second);
      sweep << i << " " << Quote(Label(runs[i].first, runs[i].second)) << " " << d.delivery_s << " "
            << d.delivery_6s << " " << d.delivery_eventual << "\n";
    }
  }

  std::vector<std::string> images;
  std::string script;
  auto both = [&](const std::string& name, const std::string& body) {
    for (const char* format : {"png", "svg"}) {
      std::string path = dir + "/" + name + "." + format;
      script += std::string(
          format[0] == 'p' ? "set terminal pngcairo noenhanced size 900,560 font \"sans,10\"\n"
                           : "set terminal svg noenhanced size 900,560 dynamic font \"sans,10\"\n");
      script += "set output " + Quote(path) + "\n" + body + "unset output\n";
      images.push_back(path);
    }
  };
  std::string title =
      runs.size() == 1 ? runs[0].second.scenario : std::to_string(runs.size()) + " runs";
  double period = runs[0].second.period_s;

  std::string cdf = "reset\nset title " + Quote("Delivery latency, " + title) +
                    "\nset logscale x 2\nset xrange [0.00390625:*]\nset yrange [0:1.02]\n"
                    "set xlabel \"seconds after sending (log scale)\"\n"
                    "set ylabel \"share of (message, recipient) pairs delivered\"\n"
                    "set key bottom right\nset grid\n";
  for (double mult : {1.0, 3.0, 6.0}) {
    char arrow[200];
    std::snprintf(arrow, sizeof arrow,
                  "set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc rgb \"gray\"\n"
                  "set label \"%gS\" at %g, graph 0.05 offset 0.3,0 tc rgb \"gray40\"\n",
                  mult * period, mult * period, mult, mult * period);
    cdf += arrow;
  }
  cdf += "plot ";
  for (size_t i = 0; i < runs.size(); ++i) {
    cdf += (i ? ", " : "") + Quote(dir + "/latency-" + std::to_string(i) + ".dat") +
           " using 1:2 with lines lw 2 title " + Quote(Label(runs[i].first, runs[i].second));
  }
  cdf += "\n";
  both("latency-cdf", cdf);

  std::string delivery =
      "reset\nset title " + Quote("Delivered so far, " + title) +
      "\nset yrange [*:1.005]\nset xlabel \"virtual time (s)\"\n"
      "set ylabel \"delivered / sent (pairs)\"\nset key bottom right\nset grid\nplot ";
  for (size_t i = 0; i < runs.size(); ++i) {
    delivery += (i ? ", " : "") + Quote(dir + "/delivery-" + std::to_string(i) + ".dat") +
                " using 1:2 with lines lw 2 title " + Quote(Label(runs[i].first, runs[i].second));
  }
  delivery += "\n";
  both("delivery", delivery);

  std::string overhead = "reset\nset title " +
                         Quote("Bytes on the wire per application message, " + title) +
                         "\nset style data histograms\nset style histogram rowstacked\n"
                         "set style fill solid 0.8 border -1\nset boxwidth 0.7\n"
                         "set ylabel \"bytes per message (all broadcasts / messages sent)\"\n"
                         "set key outside right\nset xtics rotate by -30\nset grid y\n"
                         "plot " +
                         Quote(dir + "/overhead.dat") +
                         " using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3),"
                         " '' using 4 title columnheader(4), '' using 5 title columnheader(5),"
                         " '' using 6 title columnheader(6)\n";
  both("overhead", overhead);

  if (runs.size() > 1) {
    std::string sweep =
        "reset\nset title " + Quote("Delivery per run, " + title) +
        "\nset yrange [0:1.05]\nset ylabel \"share of pairs\"\nset xtics rotate by -30\n"
        "set key bottom left\nset grid\nset style data linespoints\nplot " +
        Quote(dir + "/sweep.dat") +
        " using 1:3:xtic(2) lw 2 title \"within S\", '' using 1:4 lw 2 title "
        "\"within 6S\", '' using 1:5 lw 2 title \"eventually\"\n";
    both("sweep", sweep);
  }

  std::string script_path = dir + "/plots.gp";
  {
    std::ofstream out(script_path);
    out << script;
  }
  std::string command = "gnuplot " + Quote(script_path) + " 2>" + Quote(dir + "/gnuplot.log");
  int rc = std::system(command.c_str());
  if (rc != 0) {
    return Status(ErrorCode::kInternal, "gnuplot failed (is gnuplot-nox installed?); see " + dir +
                                            "/gnuplot.log; data and script are in " + dir);
  }
  return images;
}

}  // namespace sds::cli
