// SDS-R implosion: how many repair requests one loss causes, and how many
// rebroadcasts answer one request, as the group grows. The timers are the
// engine's own (repair::RequestDelay, ResponseDelay and InResponseGroup with a
// Config), so what is measured is what the engine would schedule.
//
// Model (the worst case for suppression, as SRM and NORM are evaluated):
//  * G participants "p0" .. "p<G-1>" share a channel. Every pair is the same
//    one-way delay D = 0.5 s apart (uniform gossip latency). Run r uses the
//    message id "m<r>", so every hash, and with it every timer, changes from
//    run to run; the counters are means over the runs.
//  * Requests per loss. p0 sent the message; every other member missed it and
//    all detect the gap at t = 0 (they all received the same later message
//    that lists it). Member i sends its request at
//    T_req(i) = repair::RequestDelay(config_i, m). The first request (at T1) is
//    heard by everyone at T1 + D and postpones every pending request by t_max
//    (nim-sds and @waku/sds cancel it); p0 answers at once (its T_resp is 0),
//    so the answer reaches everyone at T1 + 2D, long before a postponed request
//    would fire. Requests per loss = |{i : T_req(i) < T1 + D}|.
//  * Responses per request. One member (p1) missed the message; all others
//    hold it, and p1's request reaches every holder at t = 0. A holder j in
//    p0's response group (repair::InResponseGroup) rebroadcasts at
//    T_resp(j) = repair::ResponseDelay(config_j, "p0", m); the first rebroadcast
//    (at R1) is heard by the other holders at R1 + D and cancels theirs.
//    Responses per request = |{j eligible : T_resp(j) < R1 + D}|. Run with the
//    original sender online (it answers at T_resp = 0) and offline (only the
//    others can answer), with one response group and with the specification's
//    Config::SpecResponseGroups(G) = G / 128 + 1.
//
// Timers: the spec dialect's window, t_min 30 s and t_max 120 s. T_req is
// kUniform (the specification) or kTruncatedExponential (NORM-style) with
// repair_group_size_estimate = G, or the default estimate (128) to show what a
// wrong estimate costs.
//
//   sds_repair_bench                       Google Benchmark counters
//   sds_repair_bench --table [--runs=N]    the summary table (markdown)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/repair_timing.h"
#include "sds/config.h"

namespace sds {
namespace {

constexpr Duration kDelay = std::chrono::milliseconds{500};
constexpr int64_t kGroupSizes[] = {10, 100, 1000, 10000};
constexpr char kSender[] = "p0";

// Runs per group size: fewer at 10,000 where one run costs ~10,000 hashes.
int64_t DefaultRuns(int64_t group) { return group >= 10000 ? 400 : 2000; }

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// "<prefix><n>", built by appending: GCC 12 warns falsely (-Wrestrict, bug
// 105329) about "literal" + std::to_string(n) at -O3.
std::string Id(char prefix, int64_t n) {
  std::string id(1, prefix);
  id += std::to_string(n);
  return id;
}

std::vector<std::string> Names(int64_t group) {
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(group));
  for (int64_t i = 0; i < group; ++i) names.push_back(Id('p', i));
  return names;
}

// ---- The two experiments ------------------------------------------------------------------

enum class Timer { kUniform, kExponentialExact, kExponentialDefault };

const char* TimerName(Timer timer) {
  switch (timer) {
    case Timer::kUniform:
      return "uniform";
    case Timer::kExponentialExact:
      return "trunc-exp (estimate = G)";
    case Timer::kExponentialDefault:
      return "trunc-exp (estimate 128)";
  }
  return "?";
}

Config RequestConfig(Timer timer, int64_t group) {
  Config config = Config::ForDialect(Dialect::kSpec);  // t_min 30 s, t_max 120 s
  if (timer != Timer::kUniform) {
    config.repair_request_timer = RepairRequestTimer::kTruncatedExponential;
    if (timer == Timer::kExponentialExact) config.repair_group_size_estimate = group;
  }
  return config;
}

struct Outcome {
  int64_t count = 0;  // requests (or responses) sent for the loss
  Duration first{0};  // when the first one went out, after detection (or request)
};

// Every member but the sender missed `message_id` and detects it at t = 0.
Outcome SimulateRequests(Config config, const std::vector<std::string>& names,
                         const std::string& message_id, std::vector<Duration>& scratch) {
  scratch.clear();
  for (size_t i = 1; i < names.size(); ++i) {
    config.participant_id = names[i];
    scratch.push_back(repair::RequestDelay(config, message_id));
  }
  Outcome outcome;
  outcome.first = *std::min_element(scratch.begin(), scratch.end());
  const Duration heard = outcome.first + kDelay;
  outcome.count =
      std::count_if(scratch.begin(), scratch.end(), [&](Duration t) { return t < heard; });
  return outcome;
}

// p1 missed `message_id`; its request reaches every holder at t = 0.
Outcome SimulateResponses(Config config, const std::vector<std::string>& names,
                          const std::string& message_id, bool sender_online,
                          std::vector<Duration>& scratch) {
  scratch.clear();
  for (size_t j = 0; j < names.size(); ++j) {
    if (j == 1 || (j == 0 && !sender_online)) continue;
    config.participant_id = names[j];
    if (!repair::InResponseGroup(config, kSender, message_id)) continue;
    scratch.push_back(repair::ResponseDelay(config, kSender, message_id));
  }
  Outcome outcome;
  if (scratch.empty()) return outcome;  // nobody may answer: the request is lost
  outcome.first = *std::min_element(scratch.begin(), scratch.end());
  const Duration heard = outcome.first + kDelay;
  outcome.count =
      std::count_if(scratch.begin(), scratch.end(), [&](Duration t) { return t < heard; });
  return outcome;
}

struct Summary {
  double mean = 0;
  int64_t p95 = 0;
  int64_t max = 0;
  double first_s = 0;     // mean delay of the first request / response
  double unanswered = 0;  // fraction of runs with no eligible responder
};

template <typename Run>
Summary Summarize(int64_t runs, Run run) {
  std::vector<int64_t> counts;
  counts.reserve(static_cast<size_t>(runs));
  double first = 0;
  int64_t answered = 0;
  for (int64_t r = 0; r < runs; ++r) {
    Outcome o = run(Id('m', r));
    counts.push_back(o.count);
    if (o.count > 0) {
      first += Seconds(o.first);
      ++answered;
    }
  }
  Summary s;
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  s.mean = static_cast<double>(total) / static_cast<double>(runs);
  std::sort(counts.begin(), counts.end());
  s.p95 = counts[static_cast<size_t>((runs - 1) * 95 / 100)];
  s.max = counts.back();
  s.first_s = answered > 0 ? first / static_cast<double>(answered) : 0;
  s.unanswered = 1.0 - static_cast<double>(answered) / static_cast<double>(runs);
  return s;
}

Summary RequestsPerLoss(Timer timer, int64_t group, int64_t runs) {
  const Config config = RequestConfig(timer, group);
  const std::vector<std::string> names = Names(group);
  std::vector<Duration> scratch;
  return Summarize(
      runs, [&](const std::string& m) { return SimulateRequests(config, names, m, scratch); });
}

Summary ResponsesPerRequest(bool spec_groups, bool sender_online, int64_t group, int64_t runs) {
  Config config = Config::ForDialect(Dialect::kSpec);
  config.num_response_groups = spec_groups ? Config::SpecResponseGroups(group) : 1;
  const std::vector<std::string> names = Names(group);
  std::vector<Duration> scratch;
  return Summarize(runs, [&](const std::string& m) {
    return SimulateResponses(config, names, m, sender_online, scratch);
  });
}

// ---- Google Benchmark ---------------------------------------------------------------------
// One benchmark iteration is one run (one message id); the counters are means
// over the fixed number of runs, so they do not depend on the machine.

void BM_RequestsPerLoss(benchmark::State& state) {
  const auto timer = static_cast<Timer>(state.range(0));
  const int64_t group = state.range(1);
  const Config config = RequestConfig(timer, group);
  const std::vector<std::string> names = Names(group);
  std::vector<Duration> scratch;
  int64_t run = 0, requests = 0;
  double first = 0;
  for (auto _ : state) {
    Outcome o = SimulateRequests(config, names, Id('m', run++), scratch);
    requests += o.count;
    first += Seconds(o.first);
  }
  state.SetLabel(TimerName(timer));
  state.counters["requests_per_loss"] = static_cast<double>(requests) / static_cast<double>(run);
  state.counters["first_request_s"] = first / static_cast<double>(run);
}

void BM_ResponsesPerRequest(benchmark::State& state) {
  const bool spec_groups = state.range(0) != 0;
  const bool sender_online = state.range(1) != 0;
  const int64_t group = state.range(2);
  Config config = Config::ForDialect(Dialect::kSpec);
  config.num_response_groups = spec_groups ? Config::SpecResponseGroups(group) : 1;
  const std::vector<std::string> names = Names(group);
  std::vector<Duration> scratch;
  int64_t run = 0, responses = 0, answered = 0;
  double first = 0;
  for (auto _ : state) {
    Outcome o = SimulateResponses(config, names, Id('m', run++), sender_online, scratch);
    responses += o.count;
    if (o.count > 0) {
      ++answered;
      first += Seconds(o.first);
    }
  }
  state.SetLabel(std::string(spec_groups ? "groups G/128+1" : "1 group") +
                 (sender_online ? ", sender online" : ", sender offline"));
  state.counters["responses_per_request"] =
      static_cast<double>(responses) / static_cast<double>(run);
  state.counters["first_response_s"] = answered > 0 ? first / static_cast<double>(answered) : 0;
  state.counters["unanswered"] = 1.0 - static_cast<double>(answered) / static_cast<double>(run);
}

void RegisterBenchmarks() {
  for (int64_t group : kGroupSizes) {
    for (Timer timer : {Timer::kUniform, Timer::kExponentialExact, Timer::kExponentialDefault}) {
      benchmark::RegisterBenchmark("BM_RequestsPerLoss", BM_RequestsPerLoss)
          ->Args({static_cast<int64_t>(timer), group})
          ->Iterations(DefaultRuns(group))
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (int64_t group : kGroupSizes) {
    for (int spec_groups : {0, 1}) {
      for (int online : {1, 0}) {
        benchmark::RegisterBenchmark("BM_ResponsesPerRequest", BM_ResponsesPerRequest)
            ->Args({spec_groups, online, group})
            ->Iterations(DefaultRuns(group))
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

// ---- Table --------------------------------------------------------------------------------

void PrintTable(int64_t runs_override) {
  auto runs_for = [&](int64_t group) {
    return runs_override > 0 ? runs_override : DefaultRuns(group);
  };
  std::printf(
      "Requests per loss (every member but the sender missed it, all detect at t = 0),\n"
      "spec window T_req in [30 s, 120 s), one-way delay D = 0.5 s; mean (p95, max);\n"
      "first = mean delay of the first request after detection.\n\n");
  std::printf(
      "| G | runs | uniform | first | trunc-exp, estimate = G | first |"
      " trunc-exp, estimate 128 | first |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (int64_t group : kGroupSizes) {
    const int64_t runs = runs_for(group);
    std::printf("| %lld | %lld |", static_cast<long long>(group), static_cast<long long>(runs));
    for (Timer timer : {Timer::kUniform, Timer::kExponentialExact, Timer::kExponentialDefault}) {
      Summary s = RequestsPerLoss(timer, group, runs);
      std::printf(" %.2f (%lld, %lld) | %.1f s |", s.mean, static_cast<long long>(s.p95),
                  static_cast<long long>(s.max), s.first_s);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  std::printf(
      "\nResponses per request (one member missed it, every other member holds it and\n"
      "hears the request at t = 0), T_resp in [0, 120 s), D = 0.5 s; mean (p95, max);\n"
      "first = mean delay of the first rebroadcast; offline: the original sender does not\n"
      "answer (\"unanswered\" = runs where no eligible holder was left).\n\n");
  std::printf(
      "| G | groups (spec) | 1 group, sender online | 1 group, sender offline | first |"
      " G/128+1 groups, online | G/128+1 groups, offline | first | unanswered |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (int64_t group : kGroupSizes) {
    const int64_t runs = runs_for(group);
    Summary one_on = ResponsesPerRequest(false, true, group, runs);
    Summary one_off = ResponsesPerRequest(false, false, group, runs);
    Summary spec_on = ResponsesPerRequest(true, true, group, runs);
    Summary spec_off = ResponsesPerRequest(true, false, group, runs);
    std::printf(
        "| %lld | %d | %.2f (%lld, %lld) | %.2f (%lld, %lld) | %.1f s | %.2f (%lld, %lld) |"
        " %.2f (%lld, %lld) | %.1f s | %.3f |\n",
        static_cast<long long>(group), Config::SpecResponseGroups(group), one_on.mean,
        static_cast<long long>(one_on.p95), static_cast<long long>(one_on.max), one_off.mean,
        static_cast<long long>(one_off.p95), static_cast<long long>(one_off.max), one_off.first_s,
        spec_on.mean, static_cast<long long>(spec_on.p95), static_cast<long long>(spec_on.max),
        spec_off.mean, static_cast<long long>(spec_off.p95), static_cast<long long>(spec_off.max),
        spec_off.first_s, spec_off.unanswered);
    std::fflush(stdout);
  }
}

}  // namespace
}  // namespace sds

int main(int argc, char** argv) {
  bool table = false;
  int64_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--table") == 0) table = true;
    if (std::strncmp(argv[i], "--runs=", 7) == 0) runs = std::atoll(argv[i] + 7);
  }
  if (table) {
    sds::PrintTable(runs);
    return 0;
  }
  sds::RegisterBenchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
