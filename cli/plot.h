// Plots of simulator runs through gnuplot (Debian gnuplot-nox): PNG and SVG.
#ifndef SDS_CLI_PLOT_H_
#define SDS_CLI_PLOT_H_

#include <string>
#include <vector>

#include "sds/status.h"
#include "sim/report.h"

namespace sds::cli {

// Writes into `dir` (created if needed) the data files, a gnuplot script and,
// by running gnuplot, for one run or a family of runs (a sweep):
//   latency-cdf.{png,svg}    delivery latency CDF on a log axis (ChronoSync's figure 14)
//   delivery.{png,svg}       share of (message, recipient) pairs delivered over virtual time
//   overhead.{png,svg}       bytes per application message by part (payload, bloom, ...)
//   sweep.{png,svg}          for sweeps: delivery within 6S and eventually per run
// Returns the paths of the images written. kInternal if gnuplot is missing or fails
// (the data files and script are left for running it by hand).
Result<std::vector<std::string>> WritePlots(
    const std::string& dir, const std::vector<std::pair<sim::Settings, sim::RunReport>>& runs);

}  // namespace sds::cli

#endif  // SDS_CLI_PLOT_H_
