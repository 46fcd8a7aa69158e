#include "sim/scenario.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <toml++/toml.h>

namespace sds::sim {

const char* RecoveryName(Recovery recovery) {
  switch (recovery) {
    case Recovery::kSds:
      return "sds";
    case Recovery::kSdsRepair:
      return "sds-r";
    case Recovery::kSdsRepairCatchUp:
      return "sds-r-store";
  }
  return "?";
}

double LossModel::MeanLoss() const {
  if (kind == Kind::kUniform) return loss;
  double total = p_good_to_bad + p_bad_to_good;
  if (total <= 0) return loss_good;
  double bad_share = p_good_to_bad / total;
  return (1 - bad_share) * loss_good + bad_share * loss_bad;
}

namespace {

Status Invalid(const std::string& what) { return Status(ErrorCode::kInvalidArgument, what); }

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t");
  size_t b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

Result<double> ParseDouble(const std::string& key, const std::string& text) {
  std::string t = Trim(text);
  bool percent = !t.empty() && t.back() == '%';
  if (percent) t.pop_back();
  double value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec != std::errc() || end != t.data() + t.size() || !std::isfinite(value)) {
    return Invalid(key + ": not a number: '" + text + "'");
  }
  return percent ? value / 100 : value;
}

Result<int64_t> ParseInt(const std::string& key, const std::string& text) {
  std::string t = Trim(text);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec != std::errc() || end != t.data() + t.size()) {
    return Invalid(key + ": not an integer: '" + text + "'");
  }
  return value;
}

Result<bool> ParseBool(const std::string& key, const std::string& text) {
  std::string t = Trim(text);
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return Invalid(key + ": not a boolean: '" + text + "'");
}

using Setter = std::function<Status(Scenario&, const std::string& key, const std::string&)>;

template <typename T>
Setter Unsigned(T Scenario::*field) {
  return [field](Scenario& s, const std::string& key, const std::string& v) -> Status {
    auto n = ParseInt(key, v);
    if (!n.ok()) return n.status();
    if (*n < 0) return Invalid(key + " must not be negative");
    s.*field = static_cast<T>(*n);
    return Status::Ok();
  };
}

// Setters for a field reached through a member accessor, e.g. the Config.
template <typename Get>
Setter SizeField(Get get) {
  return [get](Scenario& s, const std::string& key, const std::string& v) -> Status {
    auto n = ParseInt(key, v);
    if (!n.ok()) return n.status();
    if (*n < 0) return Invalid(key + " must not be negative");
    auto& field = get(s);
    field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
    return Status::Ok();
  };
}
template <typename Get>
Setter IntField(Get get) {
  return [get](Scenario& s, const std::string& key, const std::string& v) -> Status {
    auto n = ParseInt(key, v);
    if (!n.ok()) return n.status();
    auto& field = get(s);
    field = static_cast<std::remove_reference_t<decltype(field)>>(*n);
    return Status::Ok();
  };
}
template <typename Get>
Setter DoubleField(Get get) {
  return [get](Scenario& s, const std::string& key, const std::string& v) -> Status {
    auto d = ParseDouble(key, v);
    if (!d.ok()) return d.status();
    get(s) = *d;
    return Status::Ok();
  };
}
template <typename Get>
Setter ProbabilityField(Get get) {
  return [get](Scenario& s, const std::string& key, const std::string& v) -> Status {
    auto d = ParseDouble(key, v);
    if (!d.ok()) return d.status();
    if (*d < 0 || *d > 1) return Invalid(key + " must be within [0, 1]: '" + v + "'");
    get(s) = *d;
    return Status::Ok();
  };
}
template <typename Get>
Setter BoolField(Get get) {
  return [get](Scenario& s, const std::string& key, const std::string& v) -> Status {
    auto b = ParseBool(key, v);
    if (!b.ok()) return b.status();
    get(s) = *b;
    return Status::Ok();
  };
}
template <typename Get>
Setter DurationField(Get get) {
  return [get](Scenario& s, const std::string& key, const std::string& v) -> Status {
    auto d = ParseDuration(v);
    if (!d.ok()) return Invalid(key + ": " + d.status().message());
    get(s) = *d;
    return Status::Ok();
  };
}
template <typename Get, typename E>
Setter EnumField(Get get, std::map<std::string, E> names) {
  return [get, names](Scenario& s, const std::string& key, const std::string& v) -> Status {
    auto it = names.find(Trim(v));
    if (it == names.end()) {
      std::string allowed;
      for (const auto& [name, value] : names) allowed += (allowed.empty() ? "" : ", ") + name;
      return Invalid(key + ": '" + v + "' is not one of " + allowed);
    }
    get(s) = it->second;
    return Status::Ok();
  };
}

#define SDS_FIELD(expr) \
  [](Scenario & s) -> auto& { return expr; }

Status SetPartition(Scenario& s, const std::string& key, const std::string& v) {
  // "START..END[:FRACTION]"
  std::string text = Trim(v);
  size_t dots = text.find("..");
  if (dots == std::string::npos) return Invalid(key + ": expected START..END[:FRACTION]");
  size_t colon = text.find(':', dots);
  Partition p;
  auto start = ParseDuration(text.substr(0, dots));
  auto end = ParseDuration(
      text.substr(dots + 2, colon == std::string::npos ? std::string::npos : colon - dots - 2));
  if (!start.ok() || !end.ok()) return Invalid(key + ": bad duration in '" + v + "'");
  p.start = *start;
  p.end = *end;
  if (colon != std::string::npos) {
    auto f = ParseDouble(key, text.substr(colon + 1));
    if (!f.ok()) return f.status();
    p.fraction = *f;
  }
  s.partitions.push_back(p);
  return Status::Ok();
}

Status SetChurn(Scenario& s, const std::string& key, const std::string& v) {
  // "FRACTION@AT+DURATION[:lose-state]"
  std::string text = Trim(v);
  size_t at = text.find('@');
  size_t plus = text.find('+', at == std::string::npos ? 0 : at);
  if (at == std::string::npos || plus == std::string::npos) {
    return Invalid(key + ": expected FRACTION@AT+DURATION[:lose-state]");
  }
  size_t colon = text.find(':', plus);
  Churn c;
  auto f = ParseDouble(key, text.substr(0, at));
  if (!f.ok()) return f.status();
  c.fraction = *f;
  auto when = ParseDuration(text.substr(at + 1, plus - at - 1));
  auto length = ParseDuration(
      text.substr(plus + 1, colon == std::string::npos ? std::string::npos : colon - plus - 1));
  if (!when.ok() || !length.ok()) return Invalid(key + ": bad duration in '" + v + "'");
  c.at = *when;
  c.duration = *length;
  if (colon != std::string::npos) {
    std::string flag = text.substr(colon + 1);
    if (flag == "lose-state") {
      c.keep_state = false;
    } else if (flag == "keep-state") {
      c.keep_state = true;
    } else {
      return Invalid(key + ": unknown flag '" + flag + "' (lose-state or keep-state)");
    }
  }
  s.churn.push_back(c);
  return Status::Ok();
}

const std::map<std::string, Setter>& Setters() {
  static const std::map<std::string, Setter> setters = [] {
    std::map<std::string, Setter> m;
    m["name"] = [](Scenario& s, const std::string&, const std::string& v) {
      s.name = v;
      return Status::Ok();
    };
    m["description"] = [](Scenario& s, const std::string&, const std::string& v) {
      s.description = v;
      return Status::Ok();
    };
    m["seed"] = Unsigned(&Scenario::seed);
    m["participants"] = Unsigned(&Scenario::participants);
    m["recovery"] =
        EnumField(SDS_FIELD(s.recovery),
                  std::map<std::string, Recovery>{{"sds", Recovery::kSds},
                                                  {"sds-r", Recovery::kSdsRepair},
                                                  {"sds-r-store", Recovery::kSdsRepairCatchUp},
                                                  {"sds+sdsr+store", Recovery::kSdsRepairCatchUp}});
    m["period"] = DurationField(SDS_FIELD(s.period));
    m["drain"] = DurationField(SDS_FIELD(s.drain));
    m["persistence"] =
        EnumField(SDS_FIELD(s.persistence),
                  std::map<std::string, std::string>{{"memory", "memory"}, {"sqlite", "sqlite"}});
    m["partition"] = SetPartition;
    m["churn"] = SetChurn;
    m["drop_message"] = [](Scenario& s, const std::string& key, const std::string& v) {
      auto n = ParseInt(key, v);
      if (!n.ok()) return n.status();
      if (*n < 0) return Invalid(key + " must not be negative");
      s.drop_messages.push_back(static_cast<uint64_t>(*n));
      return Status::Ok();
    };

    m["traffic.arrival"] =
        EnumField(SDS_FIELD(s.traffic.arrival),
                  std::map<std::string, Traffic::Arrival>{{"constant", Traffic::Arrival::kConstant},
                                                          {"poisson", Traffic::Arrival::kPoisson}});
    m["traffic.rate"] = DoubleField(SDS_FIELD(s.traffic.rate));
    m["traffic.senders"] = SizeField(SDS_FIELD(s.traffic.senders));
    m["traffic.payload_min"] = SizeField(SDS_FIELD(s.traffic.payload_min));
    m["traffic.payload_max"] = SizeField(SDS_FIELD(s.traffic.payload_max));
    m["traffic.payload"] = [](Scenario& s, const std::string& key, const std::string& v) {
      auto n = ParseInt(key, v);
      if (!n.ok()) return n.status();
      if (*n < 1) return Invalid(key + " must be at least 1");
      s.traffic.payload_min = s.traffic.payload_max = static_cast<size_t>(*n);
      return Status::Ok();
    };
    m["traffic.message_id_bytes"] = SizeField(SDS_FIELD(s.traffic.message_id_bytes));
    m["traffic.duration"] = DurationField(SDS_FIELD(s.traffic.duration));

    m["link.model"] = EnumField(SDS_FIELD(s.loss.kind),
                                std::map<std::string, LossModel::Kind>{
                                    {"uniform", LossModel::Kind::kUniform},
                                    {"gilbert-elliott", LossModel::Kind::kGilbertElliott}});
    m["link.loss"] = ProbabilityField(SDS_FIELD(s.loss.loss));
    m["link.p_good_to_bad"] = ProbabilityField(SDS_FIELD(s.loss.p_good_to_bad));
    m["link.p_bad_to_good"] = ProbabilityField(SDS_FIELD(s.loss.p_bad_to_good));
    m["link.loss_good"] = ProbabilityField(SDS_FIELD(s.loss.loss_good));
    m["link.loss_bad"] = ProbabilityField(SDS_FIELD(s.loss.loss_bad));

    m["delay.model"] =
        EnumField(SDS_FIELD(s.delay.kind),
                  std::map<std::string, DelayModel::Kind>{{"uniform", DelayModel::Kind::kUniform},
                                                          {"normal", DelayModel::Kind::kNormal}});
    m["delay.min"] = DurationField(SDS_FIELD(s.delay.min));
    m["delay.max"] = DurationField(SDS_FIELD(s.delay.max));
    m["delay.mean"] = DurationField(SDS_FIELD(s.delay.mean));
    m["delay.jitter"] = DurationField(SDS_FIELD(s.delay.jitter));

    m["store.loss"] = ProbabilityField(SDS_FIELD(s.store.loss));
    m["store.delay_min"] = DurationField(SDS_FIELD(s.store.delay_min));
    m["store.delay_max"] = DurationField(SDS_FIELD(s.store.delay_max));
    m["store.sync_interval"] = DurationField(SDS_FIELD(s.store.sync_interval));
    m["store.request_timeout"] = DurationField(SDS_FIELD(s.store.request_timeout));
    m["store.ids_only"] = BoolField(SDS_FIELD(s.store.ids_only));
    m["store.max_entries"] = IntField(SDS_FIELD(s.store.max_entries));
    m["store.snapshot_entries"] = IntField(SDS_FIELD(s.store.snapshot_entries));
    m["store.retention_entries"] = IntField(SDS_FIELD(s.store.retention_entries));
    m["store.retention_age"] = DurationField(SDS_FIELD(s.store.retention_age));

    // Every Config field.
    m["config.dialect"] = [](Scenario& s, const std::string& key, const std::string& v) {
      std::string t = Trim(v);
      if (t != "nim" && t != "spec") return Invalid(key + ": '" + v + "' is not nim or spec");
      s.config = Config::ForDialect(t == "nim" ? Dialect::kNim : Dialect::kSpec);
      return Status::Ok();
    };
    m["config.accept_other_dialect"] = BoolField(SDS_FIELD(s.config.accept_other_dialect));
    m["config.lamport_unit"] =
        EnumField(SDS_FIELD(s.config.lamport_unit),
                  std::map<std::string, LamportUnit>{{"seconds", LamportUnit::kSeconds},
                                                     {"milliseconds", LamportUnit::kMilliseconds}});
    m["config.bloom_filter_capacity"] = IntField(SDS_FIELD(s.config.bloom_filter_capacity));
    m["config.bloom_filter_error_rate"] = DoubleField(SDS_FIELD(s.config.bloom_filter_error_rate));
    m["config.bloom_roll_over"] =
        EnumField(SDS_FIELD(s.config.bloom_roll_over),
                  std::map<std::string, BloomRollOver>{{"nim-sds", BloomRollOver::kNimSds},
                                                       {"fixed", BloomRollOver::kFixedGeometry}});
    m["config.bloom_wire_size"] =
        EnumField(SDS_FIELD(s.config.bloom_wire_size),
                  std::map<std::string, BloomWireSize>{{"right-sized", BloomWireSize::kRightSized},
                                                       {"fixed", BloomWireSize::kFixed}});
    m["config.bloom_wire_horizon"] = DurationField(SDS_FIELD(s.config.bloom_wire_horizon));
    m["config.sync_policy"] =
        EnumField(SDS_FIELD(s.config.sync_policy),
                  std::map<std::string, SyncPolicy>{
                      {"jittered-after-receipt", SyncPolicy::kJitteredAfterReceipt},
                      {"after-receipt", SyncPolicy::kAfterReceipt},
                      {"unacknowledged-receipts", SyncPolicy::kUnacknowledgedReceipts}});
    m["config.history_order"] =
        EnumField(SDS_FIELD(s.config.history_order),
                  std::map<std::string, HistoryOrder>{{"delivery", HistoryOrder::kDelivery},
                                                      {"lamport", HistoryOrder::kLamport}});
    m["config.bloom_ack_threshold"] = IntField(SDS_FIELD(s.config.bloom_ack_threshold));
    m["config.max_message_history"] = SizeField(SDS_FIELD(s.config.max_message_history));
    m["config.max_causal_history"] = SizeField(SDS_FIELD(s.config.max_causal_history));
    m["config.dedup_window"] = SizeField(SDS_FIELD(s.config.dedup_window));
    m["config.resend_interval"] = DurationField(SDS_FIELD(s.config.resend_interval));
    m["config.max_resend_attempts"] = IntField(SDS_FIELD(s.config.max_resend_attempts));
    m["config.sync_message_interval"] = DurationField(SDS_FIELD(s.config.sync_message_interval));
    m["config.repair_t_min"] = DurationField(SDS_FIELD(s.config.repair_t_min));
    m["config.repair_t_max"] = DurationField(SDS_FIELD(s.config.repair_t_max));
    m["config.num_response_groups"] = [](Scenario& s, const std::string& key,
                                         const std::string& v) {
      // "spec": the specification's n / 128 + 1 for this scenario's size.
      if (Trim(v) == "spec") {
        s.config.num_response_groups =
            Config::SpecResponseGroups(static_cast<int64_t>(s.participants));
        return Status::Ok();
      }
      auto n = ParseInt(key, v);
      if (!n.ok()) return n.status();
      s.config.num_response_groups = static_cast<int>(*n);
      return Status::Ok();
    };
    m["config.max_repair_requests"] = SizeField(SDS_FIELD(s.config.max_repair_requests));
    m["config.max_repair_attempts"] = IntField(SDS_FIELD(s.config.max_repair_attempts));
    m["config.repair_requests_in_sync_messages"] =
        BoolField(SDS_FIELD(s.config.repair_requests_in_sync_messages));
    m["config.repair_request_timer"] =
        EnumField(SDS_FIELD(s.config.repair_request_timer),
                  std::map<std::string, RepairRequestTimer>{
                      {"uniform", RepairRequestTimer::kUniform},
                      {"truncated-exponential", RepairRequestTimer::kTruncatedExponential}});
    m["config.repair_group_size_estimate"] =
        IntField(SDS_FIELD(s.config.repair_group_size_estimate));
    m["config.limits.max_channels"] = SizeField(SDS_FIELD(s.config.limits.max_channels));
    m["config.limits.max_incoming_buffer"] =
        SizeField(SDS_FIELD(s.config.limits.max_incoming_buffer));
    m["config.limits.max_incoming_buffer_bytes"] =
        SizeField(SDS_FIELD(s.config.limits.max_incoming_buffer_bytes));
    m["config.limits.max_outgoing_buffer"] =
        SizeField(SDS_FIELD(s.config.limits.max_outgoing_buffer));
    m["config.limits.max_repair_buffer"] = SizeField(SDS_FIELD(s.config.limits.max_repair_buffer));
    m["config.limits.max_lamport"] = IntField(SDS_FIELD(s.config.limits.max_lamport));
    m["config.limits.decode.max_message_bytes"] =
        SizeField(SDS_FIELD(s.config.limits.decode.max_message_bytes));
    m["config.limits.decode.max_content_bytes"] =
        SizeField(SDS_FIELD(s.config.limits.decode.max_content_bytes));
    m["config.limits.decode.max_causal_history"] =
        SizeField(SDS_FIELD(s.config.limits.decode.max_causal_history));
    m["config.limits.decode.max_repair_request"] =
        SizeField(SDS_FIELD(s.config.limits.decode.max_repair_request));
    m["config.limits.decode.max_id_bytes"] =
        SizeField(SDS_FIELD(s.config.limits.decode.max_id_bytes));
    m["config.limits.decode.max_hint_bytes"] =
        SizeField(SDS_FIELD(s.config.limits.decode.max_hint_bytes));
    m["config.limits.decode.max_bloom_bytes"] =
        SizeField(SDS_FIELD(s.config.limits.decode.max_bloom_bytes));
    return m;
  }();
  return setters;
}

#undef SDS_FIELD

// TOML value as the text ApplySetting reads.
std::optional<std::string> ValueText(const toml::node& node) {
  if (auto s = node.as_string()) return s->get();
  if (auto i = node.as_integer()) return std::to_string(i->get());
  if (auto b = node.as_boolean()) return std::string(b->get() ? "true" : "false");
  if (auto f = node.as_floating_point()) {
    std::ostringstream out;
    out.precision(17);
    out << f->get();
    return out.str();
  }
  return std::nullopt;
}

Status ApplyTable(Scenario& scenario, const toml::table& table, const std::string& prefix,
                  const std::string& source) {
  // "config.dialect" resets the other config fields: apply it first.
  if (prefix == "config." && table.contains("dialect")) {
    auto text = ValueText(*table.get("dialect"));
    if (!text) return Invalid(source + ": config.dialect must be a string");
    SDS_RETURN_IF_ERROR(ApplySetting(scenario, "config.dialect", *text));
  }
  for (const auto& [name, node] : table) {
    std::string key = prefix + std::string(name.str());
    if (key == "config.dialect") continue;
    if (auto sub = node.as_table()) {
      SDS_RETURN_IF_ERROR(ApplyTable(scenario, *sub, key + ".", source));
      continue;
    }
    if (auto array = node.as_array(); array && key == "drop_message") {
      for (const auto& element : *array) {
        auto text = ValueText(element);
        if (!text) return Invalid(source + ": drop_message entries must be integers");
        SDS_RETURN_IF_ERROR(ApplySetting(scenario, key, *text));
      }
      continue;
    }
    if (auto array = node.as_array(); array && (key == "partition" || key == "churn")) {
      for (const auto& element : *array) {
        const toml::table* item = element.as_table();
        if (item == nullptr) return Invalid(source + ": [[" + key + "]] entries must be tables");
        auto need = [&](const char* field) -> std::string {
          auto n = (*item)[field].node();
          return n ? ValueText(*n).value_or("") : std::string();
        };
        std::string spec;
        if (key == "partition") {
          spec = need("start") + ".." + need("end");
          if ((*item)["fraction"].node()) spec += ":" + need("fraction");
        } else {
          spec = need("fraction") + "@" + need("at") + "+" + need("duration");
          if (auto keep = (*item)["keep_state"].node()) {
            auto b = keep->as_boolean();
            if (!b) return Invalid(source + ": churn.keep_state must be a boolean");
            spec += b->get() ? ":keep-state" : ":lose-state";
          }
        }
        Status status = ApplySetting(scenario, key, spec);
        if (!status.ok()) return Invalid(source + ": " + status.message());
      }
      continue;
    }
    auto text = ValueText(node);
    if (!text) return Invalid(source + ": " + key + " has an unsupported type");
    Status status = ApplySetting(scenario, key, *text);
    if (!status.ok()) return Invalid(source + ": " + status.message());
  }
  return Status::Ok();
}

}  // namespace

Status ApplySetting(Scenario& scenario, const std::string& key, const std::string& value) {
  auto it = Setters().find(key);
  if (it == Setters().end()) {
    return Invalid("unknown setting '" + key + "' (see `sds sim --list-settings`)");
  }
  return it->second(scenario, key, value);
}

std::vector<std::string> SettingKeys() {
  std::vector<std::string> keys;
  for (const auto& [key, setter] : Setters()) keys.push_back(key);
  return keys;
}

Result<Scenario> ParseScenarioToml(const std::string& text, const std::string& source_name) {
  // toml++ is built with exceptions: its parse error stays inside this function.
  toml::table parsed;
  try {
    parsed = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    std::ostringstream out;
    out << source_name << ":" << error.source().begin.line << ":" << error.source().begin.column
        << ": " << error.description();
    return Status(ErrorCode::kInvalidArgument, out.str());
  }
  Scenario scenario;
  SDS_RETURN_IF_ERROR(ApplyTable(scenario, parsed, "", source_name));
  return scenario;
}

Result<Scenario> LoadScenarioFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kInvalidArgument, "cannot read scenario file " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseScenarioToml(buffer.str(), path);
}

Result<Duration> ParseDuration(const std::string& text) {
  std::string t = Trim(text);
  size_t unit_at = t.find_first_not_of("0123456789.");
  std::string number = t.substr(0, unit_at);
  std::string unit = unit_at == std::string::npos ? "" : t.substr(unit_at);
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size()) {
    return Status(ErrorCode::kInvalidArgument, "not a duration: '" + text + "'");
  }
  double ms_per_unit = 0;
  if (unit.empty() || unit == "ms") {
    ms_per_unit = 1;
  } else if (unit == "s") {
    ms_per_unit = 1000;
  } else if (unit == "m" || unit == "min") {
    ms_per_unit = 60'000;
  } else if (unit == "h") {
    ms_per_unit = 3'600'000;
  } else {
    return Status(ErrorCode::kInvalidArgument,
                  "unknown unit '" + unit + "' in '" + text + "' (ms, s, m, h)");
  }
  double ms = value * ms_per_unit;
  if (ms > 1e15) return Status(ErrorCode::kInvalidArgument, "duration too long: '" + text + "'");
  return Duration(static_cast<int64_t>(std::llround(ms)));
}

std::string FormatDuration(Duration duration) {
  int64_t ms = duration.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

Status Scenario::Validate() const {
  if (participants < 2) return Invalid("participants must be at least 2");
  if (participants > 100000) return Invalid("participants must be at most 100000");
  if (traffic.rate < 0) return Invalid("traffic.rate must not be negative");
  if (traffic.payload_min < 1 || traffic.payload_max < traffic.payload_min) {
    return Invalid("traffic.payload_min must be >= 1 and <= traffic.payload_max");
  }
  if (traffic.message_id_bytes < 12 || traffic.message_id_bytes > 200) {
    return Invalid("traffic.message_id_bytes must be within [12, 200]");
  }
  if (traffic.senders > participants) return Invalid("traffic.senders exceeds participants");
  if (period.count() <= 0) return Invalid("period must be positive");
  if (traffic.duration.count() < 0 || drain.count() < 0) {
    return Invalid("traffic.duration and drain must not be negative");
  }
  if (delay.min.count() < 0 || delay.max < delay.min) {
    return Invalid("delay.min must be >= 0 and <= delay.max");
  }
  if (delay.kind == DelayModel::Kind::kNormal &&
      (delay.mean < delay.min || delay.jitter.count() < 0)) {
    return Invalid("delay.mean must be >= delay.min and delay.jitter >= 0");
  }
  for (const Partition& p : partitions) {
    if (p.end < p.start || p.fraction <= 0 || p.fraction >= 1) {
      return Invalid("partition: needs start <= end and 0 < fraction < 1");
    }
  }
  for (const Churn& c : churn) {
    if (c.fraction <= 0 || c.fraction >= 1 || c.duration.count() <= 0) {
      return Invalid("churn: needs 0 < fraction < 1 and a positive duration");
    }
  }
  if (recovery == Recovery::kSdsRepairCatchUp) {
    if (store.delay_min.count() < 0 || store.delay_max < store.delay_min) {
      return Invalid("store.delay_min must be >= 0 and <= store.delay_max");
    }
    if (store.sync_interval.count() <= 0 || store.request_timeout.count() <= 0 ||
        store.retention_age.count() <= 0) {
      return Invalid(
          "store.sync_interval, store.request_timeout and store.retention_age must be "
          "positive");
    }
    if (store.max_entries < 1 || store.snapshot_entries < 1 || store.retention_entries < 1) {
      return Invalid(
          "store.max_entries, store.snapshot_entries and store.retention_entries must "
          "be at least 1");
    }
    if (store.max_entries > config.max_message_history ||
        store.snapshot_entries > config.max_message_history) {
      return Invalid(
          "store.max_entries and store.snapshot_entries must not exceed "
          "config.max_message_history (a replayed page must stay recognisable)");
    }
  }
  Config probe = config;
  probe.participant_id = "p0";
  Status engine = probe.Validate();
  if (!engine.ok()) return Invalid("config: " + engine.message());
  return Status::Ok();
}

}  // namespace sds::sim
