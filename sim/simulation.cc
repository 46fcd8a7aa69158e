#include "sim/simulation.h"

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <queue>
#include <random>
#include <system_error>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "sds/catchup.h"
#include "sds/codec.h"
#include "sds/log_service.h"
#include "sds/memory_channel_log.h"
#include "sds/memory_store.h"
#include "sds/reliability_manager.h"
#include "sds/sqlite_store.h"

namespace sds::sim {

void WireTraffic::Add(const WireTraffic& other) {
  messages += other.messages;
  bytes += other.bytes;
  payload_bytes += other.payload_bytes;
  bloom_bytes += other.bloom_bytes;
  history_bytes += other.history_bytes;
  repair_request_bytes += other.repair_request_bytes;
  header_bytes += other.header_bytes;
}

WireTraffic RunReport::Total() const {
  WireTraffic total;
  total.Add(content);
  total.Add(resends);
  total.Add(syncs);
  total.Add(repairs);
  return total;
}

std::string SimMessageId(uint64_t index, size_t length) {
  std::string id = std::to_string(index) + "-";
  // Filler derived from the index, so ids look like hashes of equal length.
  uint64_t x = index * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  static constexpr char kHex[] = "0123456789abcdef";
  while (id.size() < length) {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    id.push_back(kHex[x & 15]);
  }
  return id;
}

int64_t SimMessageIndex(const std::string& id) {
  int64_t value = 0;
  size_t i = 0;
  for (; i < id.size() && id[i] != '-'; ++i) {
    if (id[i] < '0' || id[i] > '9' || i > 15) return -1;
    value = value * 10 + (id[i] - '0');
  }
  if (i == 0 || i == id.size()) return -1;
  return value;
}

namespace {

constexpr char kChannel[] = "general";
constexpr char kStoreId[] = "sim-store";
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr int32_t kNot = -1;

enum class Kind : uint8_t { kContent, kResend, kSync, kRepair };

struct BroadcastRecord {
  SharedBytes wire;
  uint32_t author = 0;   // whose state the bloom filter and history describe
  int64_t created = 0;   // when those were taken (virtual ms)
  int64_t message = -1;  // simulator message index, -1 for sync messages
  Kind kind = Kind::kContent;
  std::vector<uint32_t> history;  // causal history, as message indices
};

enum class ItemType : uint8_t {
  kDeliver,
  kTick,
  kSend,
  kOffline,
  kOnline,
  kSample,
  kStoreHear,      // a broadcast reaches the store node
  kStoreRequest,   // a catch-up request reaches the store node (aux: exchange)
  kStoreResponse,  // its answer reaches the member (aux: exchange)
};

// One catch-up request and then its answer, in flight.
struct Exchange {
  uint32_t member = 0;
  uint32_t generation = 0;  // the member's driver incarnation that asked
  uint64_t request_id = 0;
  catchup::RequestKind kind = catchup::RequestKind::kSync;
  Bytes bytes;
};

struct Item {
  int64_t when;
  uint64_t order;
  ItemType type;
  uint32_t who;
  uint32_t aux;
  std::shared_ptr<const BroadcastRecord> record;
};
struct Later {
  bool operator()(const Item& a, const Item& b) const {
    return a.when != b.when ? a.when > b.when : a.order > b.order;
  }
};

struct MessageInfo {
  uint32_t sender = 0;
  int64_t sent_at = 0;
  int64_t acked_at = kNot;
  std::vector<uint32_t> deps;
};

struct Member {
  std::unique_ptr<ReliabilityManager> manager;
  std::unique_ptr<catchup::CatchUpDriver> driver;  // recovery sds-r-store only
  uint32_t generation = 0;                         // drivers created so far
  std::shared_ptr<Store> store;  // only for members that come back with their state
  std::string store_path;
  bool online = true;
  bool lost_state = false;
  bool sends = true;
  int64_t scheduled_tick = kNever;
  uint64_t sent = 0;
};

class Simulation {
 public:
  Simulation(const Scenario& scenario, const RunOptions& options)
      : s_(scenario),
        options_(options),
        n_(scenario.participants),
        net_rng_(scenario.seed),
        traffic_rng_(scenario.seed * 0x2545F4914F6CDD1Dull + 17),
        store_rng_(scenario.seed * 0x9E3779B97F4A7C15ull + 0x5702E) {}

  ~Simulation() {
    members_.clear();
    for (const std::string& path : store_paths_) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
      std::filesystem::remove(path + "-wal", ignored);
      std::filesystem::remove(path + "-shm", ignored);
    }
  }

  Result<RunReport> Run() {
    SDS_RETURN_IF_ERROR(s_.Validate());
    SDS_RETURN_IF_ERROR(Setup());
    end_ = s_.traffic.duration.count() + s_.drain.count();
    sample_every_ = std::max<int64_t>(end_ / 200, 1);
    Push(0, ItemType::kSample, 0, 0, nullptr);
    uint64_t processed = 0;
    while (!queue_.empty() && queue_.top().when <= end_) {
      Item item = queue_.top();
      queue_.pop();
      now_ = std::max(now_, item.when);
      Process(item);
      if (options_.progress && (++processed & 8191) == 0) {
        options_.progress(static_cast<double>(now_) / 1000, static_cast<double>(end_) / 1000);
      }
    }
    now_ = end_;
    return Finish();
  }

 private:
  Timestamp At(int64_t ms) const { return start_ + Duration(ms); }
  double Uniform() { return static_cast<double>(net_rng_() >> 11) * 0x1.0p-53; }
  double TrafficUniform() { return static_cast<double>(traffic_rng_() >> 11) * 0x1.0p-53; }

  void Push(int64_t when, ItemType type, uint32_t who, uint32_t aux,
            std::shared_ptr<const BroadcastRecord> record) {
    queue_.push(Item{when, order_++, type, who, aux, std::move(record)});
  }

  Config MemberConfig(size_t index) const {
    Config config = s_.config;
    if (s_.recovery != Recovery::kSds) config.participant_id = "p" + std::to_string(index);
    return config;
  }

  bool CatchUp() const { return s_.recovery == Recovery::kSdsRepairCatchUp; }

  Status CreateManager(size_t index, bool with_store) {
    Member& m = members_[index];
    RetireDriver(m);
    Result<std::unique_ptr<ReliabilityManager>> manager =
        with_store ? ReliabilityManager::Create(MemberConfig(index), m.store)
                   : ReliabilityManager::Create(MemberConfig(index));
    if (!manager.ok()) return manager.status();
    m.manager = std::move(*manager);
    SDS_RETURN_IF_ERROR(m.manager->EnsureChannel(kChannel));
    if (!CatchUp()) return Status::Ok();
    // Cursors live in the member's store when it has one (they survive churn
    // with it), else in memory.
    catchup::CatchUpConfig config;
    config.store_id = ToBytes(kStoreId);
    config.channels = {kChannel};
    config.max_entries = s_.store.max_entries;
    config.snapshot_entries = s_.store.snapshot_entries;
    config.ids_only = s_.store.ids_only;
    config.sync_interval = s_.store.sync_interval;
    config.request_timeout = s_.store.request_timeout;
    uint64_t jitter =
        s_.seed * 0xD1B54A32D192ED03ull + index * 0x9E3779B97F4A7C15ull + ++m.generation;
    config.random = [jitter]() mutable {
      jitter += 0x9E3779B97F4A7C15ull;
      uint64_t z = jitter;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return z ^ (z >> 31);
    };
    auto driver = catchup::CatchUpDriver::Create(*m.manager, std::move(config));
    if (!driver.ok()) return driver.status();
    m.driver = std::move(*driver);
    return Status::Ok();
  }

  // The driver goes before its engine; its counters stay in the report.
  void RetireDriver(Member& m) {
    if (!m.driver) return;
    const catchup::CatchUpStats& stats = m.driver->stats();
    report_.catchup.rounds += stats.rounds;
    report_.catchup.entries_applied += stats.entries_applied;
    m.driver.reset();
  }

  Status SetupStore() {
    catchup::ChannelLogOptions options;
    options.entropy = [this](std::span<uint8_t> out) {
      for (uint8_t& b : out) b = static_cast<uint8_t>(store_rng_() >> 56);
    };
    options.store_id = ToBytes(kStoreId);
    options.retention.max_entries_per_channel = s_.store.retention_entries;
    options.retention.max_age = s_.store.retention_age;
    options.decode = s_.config.limits.decode;
    auto log = catchup::MemoryChannelLog::Create(std::move(options));
    if (!log.ok()) return log.status();
    store_log_ = std::shared_ptr<catchup::ChannelLog>(std::move(*log));
    auto service = catchup::LogService::Create(store_log_);
    if (!service.ok()) return service.status();
    store_service_ = std::move(*service);
    report_.catchup.enabled = true;
    return Status::Ok();
  }

  Status Setup() {
    if (CatchUp()) SDS_RETURN_IF_ERROR(SetupStore());
    members_.resize(n_);
    // Who comes back with its state needs a store from the start.
    std::vector<bool> keeps_state(n_, false);
    for (const Churn& churn : s_.churn) {
      for (size_t p : ChurnMembers(churn)) keeps_state[p] = keeps_state[p] || churn.keep_state;
    }
    for (size_t i = 0; i < n_; ++i) {
      Member& m = members_[i];
      if (keeps_state[i]) {
        if (s_.persistence == "sqlite") {
          std::string path = (std::filesystem::temp_directory_path() /
                              ("sds-sim-" + std::to_string(::getpid()) + "-" +
                               std::to_string(s_.seed) + "-" + std::to_string(i) + ".sqlite"))
                                 .string();
          std::error_code ignored;
          std::filesystem::remove(path, ignored);
          auto store = SqliteStore::Open(path);
          if (!store.ok()) return store.status();
          m.store = *store;
          store_paths_.push_back(path);
        } else {
          m.store = std::make_shared<MemoryStore>();
        }
      }
      SDS_RETURN_IF_ERROR(CreateManager(i, m.store != nullptr));
      if (m.driver) {  // the first round, at start
        m.scheduled_tick = 0;
        Push(0, ItemType::kTick, static_cast<uint32_t>(i), 0, nullptr);
      }
      m.sends = s_.traffic.senders == 0 || i < s_.traffic.senders;
      if (m.sends && s_.traffic.rate > 0) {
        double gap = 1000.0 / s_.traffic.rate;
        double first = s_.traffic.arrival == Traffic::Arrival::kConstant
                           ? TrafficUniform() * gap
                           : -std::log(1 - TrafficUniform()) * gap;
        int64_t when = static_cast<int64_t>(first);
        if (when < s_.traffic.duration.count()) {
          Push(when, ItemType::kSend, static_cast<uint32_t>(i), 0, nullptr);
        }
      }
    }
    for (size_t c = 0; c < s_.churn.size(); ++c) {
      for (size_t p : ChurnMembers(s_.churn[c])) {
        Push(s_.churn[c].at.count(), ItemType::kOffline, static_cast<uint32_t>(p),
             static_cast<uint32_t>(c), nullptr);
        Push(s_.churn[c].at.count() + s_.churn[c].duration.count(), ItemType::kOnline,
             static_cast<uint32_t>(p), static_cast<uint32_t>(c), nullptr);
      }
    }
    if (s_.loss.kind == LossModel::Kind::kGilbertElliott) link_bad_.assign(n_ * n_, 0);
    per_.assign(n_, {});
    return Status::Ok();
  }

  std::vector<size_t> ChurnMembers(const Churn& churn) const {
    size_t count = static_cast<size_t>(std::llround(churn.fraction * static_cast<double>(n_)));
    count = std::clamp<size_t>(count, 1, n_ - 1);
    std::vector<size_t> members;
    for (size_t p = n_ - count; p < n_; ++p) members.push_back(p);
    return members;
  }

  void Process(const Item& item) {
    switch (item.type) {
      case ItemType::kDeliver:
        Deliver(item.who, item.record);
        break;
      case ItemType::kTick: {
        Member& m = members_[item.who];
        if (!m.online || m.scheduled_tick != item.when) break;
        m.scheduled_tick = kNever;
        Timed([&] { m.manager->Tick(At(now_)); });
        if (m.driver) Timed([&] { m.driver->Tick(At(now_)); });
        Drain(item.who);
        break;
      }
      case ItemType::kStoreHear:
        StoreHears(*item.record);
        break;
      case ItemType::kStoreRequest:
        StoreAnswers(item.aux);
        break;
      case ItemType::kStoreResponse:
        MemberGetsAnswer(item.aux);
        break;
      case ItemType::kSend:
        if (members_[item.who].online) SendMessage(item.who);
        ScheduleNextSend(item.who);
        break;
      case ItemType::kOffline:
        GoOffline(item.who, s_.churn[item.aux].keep_state);
        break;
      case ItemType::kOnline:
        ComeBack(item.who, s_.churn[item.aux].keep_state);
        break;
      case ItemType::kSample:
        report_.timeline.push_back(
            RunReport::Sample{static_cast<double>(now_) / 1000, sent_pairs_, delivered_pairs_});
        if (now_ + sample_every_ <= end_) {
          Push(now_ + sample_every_, ItemType::kSample, 0, 0, nullptr);
        }
        break;
    }
  }

  template <typename F>
  void Timed(F&& f) {
    if (!options_.measure_cpu) {
      f();
      return;
    }
    auto begin = std::chrono::steady_clock::now();
    f();
    engine_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - begin)
                      .count();
    ++engine_calls_;
  }

  void ScheduleNextSend(uint32_t who) {
    double gap = 1000.0 / s_.traffic.rate;
    if (s_.traffic.arrival == Traffic::Arrival::kPoisson) gap *= -std::log(1 - TrafficUniform());
    int64_t next = now_ + std::max<int64_t>(1, static_cast<int64_t>(std::llround(gap)));
    if (next < s_.traffic.duration.count()) Push(next, ItemType::kSend, who, 0, nullptr);
  }

  size_t Pair(uint64_t message, size_t recipient) const { return message * n_ + recipient; }

  void SendMessage(uint32_t who) {
    Member& m = members_[who];
    uint64_t index = messages_.size();
    std::string id = SimMessageId(index, s_.traffic.message_id_bytes);
    size_t span = s_.traffic.payload_max - s_.traffic.payload_min + 1;
    size_t size =
        s_.traffic.payload_min +
        std::min(span - 1, static_cast<size_t>(TrafficUniform() * static_cast<double>(span)));
    Bytes payload(size, static_cast<uint8_t>('a' + index % 26));
    Result<SharedBytes> wire = SharedBytes();
    Timed([&] { wire = m.manager->Wrap(kChannel, payload, id, At(now_)); });
    if (!wire.ok()) {
      ++wrap_errors_;
      Drain(who);
      return;
    }
    MessageInfo info;
    info.sender = who;
    info.sent_at = now_;
    messages_.push_back(std::move(info));
    delivered_at_.resize(delivered_at_.size() + n_, kNot);
    detected_at_.resize(detected_at_.size() + n_, kNot);
    received_at_.resize(received_at_.size() + n_, kNot);
    missed_.resize(missed_.size() + n_, 0);
    received_at_[Pair(index, who)] = 0;
    ++m.sent;
    sent_pairs_ += n_ - 1;
    Broadcast(who, *wire, Kind::kContent, static_cast<int64_t>(index));
    messages_[index].deps = last_history_;
    Drain(who);
  }

  bool Partitioned(size_t a, size_t b) const {
    for (const Partition& p : s_.partitions) {
      if (now_ < p.start.count() || now_ >= p.end.count()) continue;
      double cut = p.fraction * static_cast<double>(n_);
      if ((static_cast<double>(a) < cut) != (static_cast<double>(b) < cut)) return true;
    }
    return false;
  }

  bool LinkLoses(size_t from, size_t to) {
    double coin = Uniform();
    if (s_.loss.kind == LossModel::Kind::kUniform) return coin < s_.loss.loss;
    uint8_t& bad = link_bad_[from * n_ + to];
    double step = Uniform();
    if (bad) {
      if (step < s_.loss.p_bad_to_good) bad = 0;
    } else if (step < s_.loss.p_good_to_bad) {
      bad = 1;
    }
    return coin < (bad ? s_.loss.loss_bad : s_.loss.loss_good);
  }

  int64_t DrawDelay() {
    const DelayModel& d = s_.delay;
    if (d.kind == DelayModel::Kind::kUniform) {
      double span = static_cast<double>(d.max.count() - d.min.count() + 1);
      return d.min.count() + std::min<int64_t>(static_cast<int64_t>(Uniform() * span),
                                               d.max.count() - d.min.count());
    }
    // Box-Muller; two uniforms per draw keep the stream aligned.
    double u1 = 1 - Uniform(), u2 = Uniform();
    double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    double ms = static_cast<double>(d.mean.count()) + z * static_cast<double>(d.jitter.count());
    return std::max<int64_t>(d.min.count(), static_cast<int64_t>(std::llround(ms)));
  }

  void Account(WireTraffic& traffic, const Message& message, size_t wire_size) {
    Message stripped = message;
    stripped.bloom_filter.reset();
    Dialect dialect = s_.config.dialect;
    size_t without_bloom = Encode(stripped, dialect).size();
    stripped.causal_history.clear();
    size_t without_history = Encode(stripped, dialect).size();
    stripped.repair_request.clear();
    size_t bare = Encode(stripped, dialect).size();
    size_t payload = message.content ? message.content->size() : 0;
    traffic.messages += 1;
    traffic.bytes += wire_size;
    traffic.payload_bytes += payload;
    traffic.bloom_bytes += wire_size > without_bloom ? wire_size - without_bloom : 0;
    traffic.history_bytes += without_bloom - without_history;
    traffic.repair_request_bytes += without_history - bare;
    traffic.header_bytes += bare - payload;
  }

  void Broadcast(uint32_t from, const SharedBytes& wire, Kind kind, int64_t message) {
    auto record = std::make_shared<BroadcastRecord>();
    record->wire = wire;
    record->kind = kind;
    record->message = message;
    record->author = from;
    record->created = now_;
    if ((kind == Kind::kResend || kind == Kind::kRepair) && message >= 0) {
      // The original bytes: the original sender's state when it sent them.
      record->author = messages_[message].sender;
      record->created = messages_[message].sent_at;
    }
    WireTraffic* traffic = kind == Kind::kContent  ? &report_.content
                           : kind == Kind::kResend ? &report_.resends
                           : kind == Kind::kSync   ? &report_.syncs
                                                   : &report_.repairs;
    last_history_.clear();
    if (auto decoded = DecodeAny(wire, s_.config.limits.decode); decoded.ok()) {
      const Message& msg = decoded->message;
      Account(*traffic, msg, wire.size());
      report_.repair_request_entries += msg.repair_request.size();
      for (const HistoryEntry& entry : msg.causal_history) {
        int64_t index = SimMessageIndex(entry.message_id);
        if (index >= 0) record->history.push_back(static_cast<uint32_t>(index));
      }
      last_history_ = record->history;
    } else {
      traffic->messages += 1;
      traffic->bytes += wire.size();
    }
    std::shared_ptr<const BroadcastRecord> shared = std::move(record);
    if (store_log_) {
      ++report_.catchup.store_heard;
      if (int64_t delay = StoreLinkDelay(); delay >= 0) {
        Push(now_ + delay, ItemType::kStoreHear, 0, 0, shared);
      } else {
        ++report_.catchup.store_copies_lost;
      }
    }
    for (uint32_t to = 0; to < n_; ++to) {
      if (to == from) continue;
      ++report_.copies_sent;
      // Both numbers are drawn for every copy so that one change of loss
      // keeps the rest of the run's randomness aligned.
      bool lost = LinkLoses(from, to);
      int64_t delay = DrawDelay();
      lost = lost || Partitioned(from, to) || !members_[to].online ||
             (kind == Kind::kContent &&
              std::find(s_.drop_messages.begin(), s_.drop_messages.end(),
                        static_cast<uint64_t>(message)) != s_.drop_messages.end());
      if (lost) {
        ++report_.copies_lost;
        if (kind == Kind::kContent) missed_[Pair(static_cast<uint64_t>(message), to)] = 1;
        continue;
      }
      Push(now_ + delay, ItemType::kDeliver, to, 0, shared);
    }
  }

  void Deliver(uint32_t to, const std::shared_ptr<const BroadcastRecord>& record) {
    Member& m = members_[to];
    if (!m.online) {
      ++report_.copies_lost;
      if (record->kind == Kind::kContent) {
        missed_[Pair(static_cast<uint64_t>(record->message), to)] = 1;
      }
      return;
    }
    current_ = record.get();
    Result<UnwrapResult> result = Status(ErrorCode::kInternal, "not run");
    Timed([&] { result = m.manager->Unwrap(record->wire, At(now_)); });
    if (!result.ok()) {
      ++report_.rejected;
    } else if (record->message >= 0 && result->outcome != UnwrapOutcome::kSync) {
      int32_t& received = received_at_[Pair(static_cast<uint64_t>(record->message), to)];
      if (received == kNot) {
        received = static_cast<int32_t>(now_ - messages_[record->message].sent_at);
      }
    }
    Drain(to);
    current_ = nullptr;
  }

  void Drain(uint32_t index) {
    Member& m = members_[index];
    // The driver's events first: they say which dependencies were given up
    // before the engine's MessageReady for what that released.
    if (m.driver) {
      while (std::optional<catchup::CatchUpEvent> event = m.driver->PollEvent()) {
        std::visit([&](auto& e) { HandleCatchUp(index, e); }, *event);
      }
    }
    while (true) {
      std::optional<Event> event;
      Timed([&] { event = m.manager->PollEvent(); });
      if (!event) break;
      std::visit([&](auto& e) { Handle(index, e); }, *event);
    }
    if (m.driver) SendRequests(index);
    ScheduleTick(index);
  }

  // ---- The store node and catch-up ----------------------------------------

  // The store's link, one way: the delay, or -1 when the copy is lost. Its
  // own random stream, so that the members' network is the same run with
  // and without the store.
  int64_t StoreLinkDelay() {
    double coin = static_cast<double>(store_rng_() >> 11) * 0x1.0p-53;
    double pick = static_cast<double>(store_rng_() >> 11) * 0x1.0p-53;
    const StoreNode& st = s_.store;
    int64_t span = st.delay_max.count() - st.delay_min.count();
    int64_t delay =
        st.delay_min.count() +
        std::min<int64_t>(static_cast<int64_t>(pick * static_cast<double>(span + 1)), span);
    return coin < st.loss ? -1 : delay;
  }

  void StoreHears(const BroadcastRecord& record) {
    auto result = store_log_->AppendOne(record.wire, At(now_));
    if (!result.ok()) {
      ++report_.catchup.store_not_stored;
      return;
    }
    switch (result->disposition) {
      case catchup::AppendDisposition::kAppended:
        ++report_.catchup.store_appended;
        break;
      case catchup::AppendDisposition::kDuplicate:
        ++report_.catchup.store_duplicates;
        break;
      default:
        ++report_.catchup.store_not_stored;  // sync messages, rejects
        break;
    }
  }

  void SendRequests(uint32_t index) {
    Member& m = members_[index];
    while (std::optional<catchup::OutgoingRequest> request = m.driver->TakeRequest()) {
      CatchUpReport& c = report_.catchup;
      ++c.requests;
      switch (request->kind) {
        case catchup::RequestKind::kSync:
          ++c.sync_requests;
          break;
        case catchup::RequestKind::kSnapshot:
          ++c.snapshot_requests;
          break;
        case catchup::RequestKind::kFetch:
          ++c.fetch_requests;
          break;
      }
      Exchange exchange{index, m.generation, request->request_id, request->kind, request->Encode()};
      c.request_bytes += exchange.bytes.size();
      int64_t delay = StoreLinkDelay();
      if (delay < 0) {
        ++c.requests_lost;  // the driver's request_timeout notices
        continue;
      }
      uint32_t id = next_exchange_++;
      exchanges_.emplace(id, std::move(exchange));
      Push(now_ + delay, ItemType::kStoreRequest, index, id, nullptr);
    }
  }

  void StoreAnswers(uint32_t id) {
    auto it = exchanges_.find(id);
    Exchange& exchange = it->second;
    switch (exchange.kind) {
      case catchup::RequestKind::kSync:
        exchange.bytes = store_service_->HandleSync(exchange.bytes);
        break;
      case catchup::RequestKind::kSnapshot:
        exchange.bytes = store_service_->HandleSnapshot(exchange.bytes);
        break;
      case catchup::RequestKind::kFetch:
        exchange.bytes = store_service_->HandleFetch(exchange.bytes);
        break;
    }
    report_.catchup.responses += 1;
    report_.catchup.response_bytes += exchange.bytes.size();
    int64_t delay = StoreLinkDelay();
    if (delay < 0) {
      ++report_.catchup.responses_lost;
      exchanges_.erase(it);
      return;
    }
    Push(now_ + delay, ItemType::kStoreResponse, exchange.member, id, nullptr);
  }

  void MemberGetsAnswer(uint32_t id) {
    auto it = exchanges_.find(id);
    Exchange exchange = std::move(it->second);
    exchanges_.erase(it);
    Member& m = members_[exchange.member];
    if (!m.online || !m.driver || m.generation != exchange.generation) {
      ++report_.catchup.responses_stale;
      return;
    }
    Timed([&] { (void)m.driver->OnResponse(exchange.request_id, exchange.bytes, At(now_)); });
    applying_catchup_ = true;
    Drain(exchange.member);
    applying_catchup_ = false;
  }

  void HandleCatchUp(uint32_t, const catchup::HistoryGap& e) {
    if (e.initial_load) {
      ++report_.catchup.initial_loads;
      return;
    }
    ++report_.catchup.cold_starts;
    uint64_t from = e.had_cursor && e.had_cursor->epoch == e.epoch ? e.had_cursor->seq : 0;
    if (e.first_seq > from + 1) report_.catchup.gap_entries += e.first_seq - from - 1;
  }
  // The engine no longer waits for these: what they held back is delivered
  // without them, which the oracle must not count as a causal violation.
  void HandleCatchUp(uint32_t at, const catchup::Irretrievable& e) {
    report_.catchup.irretrievable += e.message_ids.size();
    for (const MessageId& id : e.message_ids) {
      int64_t index = SimMessageIndex(id);
      if (index >= 0 && static_cast<uint64_t>(index) < messages_.size()) {
        excused_.insert(Pair(static_cast<uint64_t>(index), at));
      }
    }
  }
  void HandleCatchUp(uint32_t, const catchup::RetryScheduled&) { ++report_.catchup.retries; }
  void HandleCatchUp(uint32_t, const catchup::ResponseRejected&) {
    ++report_.catchup.rejected_responses;
  }
  template <typename Other>
  void HandleCatchUp(uint32_t, const Other&) {}

  void Handle(uint32_t at, const MessageReady& e) {
    if (e.kind != MessageKind::kContent) return;
    int64_t index = SimMessageIndex(e.message_id);
    if (index < 0 || static_cast<uint64_t>(index) >= messages_.size()) return;
    const MessageInfo& info = messages_[index];
    int32_t& delivered = delivered_at_[Pair(static_cast<uint64_t>(index), at)];
    if (delivered != kNot) {
      if (members_[at].lost_state) {
        ++report_.redeliveries_after_state_loss;
      } else {
        ++report_.duplicate_deliveries;
      }
      return;
    }
    delivered = static_cast<int32_t>(now_ - info.sent_at);
    int32_t& received = received_at_[Pair(static_cast<uint64_t>(index), at)];
    if (received == kNot) received = delivered;
    ++delivered_pairs_;
    if (applying_catchup_) ++report_.catchup.delivered_pairs;
    for (uint32_t dep : info.deps) {
      if (messages_[dep].sender != at && delivered_at_[Pair(dep, at)] == kNot &&
          (excused_.empty() || excused_.count(Pair(dep, at)) == 0)) {
        ++report_.causal_violations;
      }
    }
  }
  void Handle(uint32_t at, const MessageAcknowledged& e) {
    int64_t index = SimMessageIndex(e.message_id);
    if (index < 0 || static_cast<uint64_t>(index) >= messages_.size()) return;
    MessageInfo& info = messages_[index];
    if (info.sender != at) return;
    if (info.acked_at == kNot) info.acked_at = now_;
    if (current_ == nullptr) return;
    bool by_history = std::find(current_->history.begin(), current_->history.end(),
                                static_cast<uint32_t>(index)) != current_->history.end();
    if (by_history) return;
    ++report_.bloom_acknowledgements;
    int32_t received = received_at_[Pair(static_cast<uint64_t>(index), current_->author)];
    if (received == kNot || info.sent_at + received > current_->created) {
      ++report_.false_acknowledgements;
    }
  }
  void Handle(uint32_t, const MessagePossiblyAcknowledged&) { ++report_.possibly_acknowledged; }
  void Handle(uint32_t at, const MissingDependencies& e) {
    for (const HistoryEntry& entry : e.missing) {
      ++report_.gaps_reported;
      int64_t index = SimMessageIndex(entry.message_id);
      if (index < 0 || static_cast<uint64_t>(index) >= messages_.size()) continue;
      int32_t& detected = detected_at_[Pair(static_cast<uint64_t>(index), at)];
      if (detected == kNot) detected = static_cast<int32_t>(now_ - messages_[index].sent_at);
    }
  }
  void Handle(uint32_t, const SendFailed&) { ++report_.send_failed; }
  void Handle(uint32_t at, const RebroadcastDue& e) {
    Broadcast(at, e.wire, Kind::kResend, SimMessageIndex(e.message_id));
  }
  void Handle(uint32_t at, const SyncMessageReady& e) { Broadcast(at, e.wire, Kind::kSync, -1); }
  void Handle(uint32_t at, const RepairReady& e) {
    int64_t index = SimMessageIndex(e.message_id);
    if (static_cast<uint64_t>(index) >= messages_.size()) index = -1;
    Broadcast(at, e.wire, Kind::kRepair, index);
  }
  void Handle(uint32_t, const MessageDropped&) { ++report_.dropped; }

  void ScheduleTick(uint32_t index) {
    Member& m = members_[index];
    if (!m.online) return;
    Timestamp deadline = m.manager->NextDeadline();
    if (m.driver) deadline = std::min(deadline, m.driver->NextDeadline());
    if (deadline == kNoDeadline) return;
    int64_t when = std::max<int64_t>(now_, (deadline - start_).count());
    if (when >= m.scheduled_tick) return;
    m.scheduled_tick = when;
    Push(when, ItemType::kTick, index, 0, nullptr);
  }

  void GoOffline(uint32_t index, bool keep_state) {
    Member& m = members_[index];
    if (!m.online) return;
    m.online = false;
    m.scheduled_tick = kNever;
    // The process stops: with a store its state survives there.
    RetireDriver(m);
    m.manager.reset();
    if (!keep_state) m.lost_state = true;
  }

  void ComeBack(uint32_t index, bool keep_state) {
    Member& m = members_[index];
    if (m.online) return;
    Status status = CreateManager(index, keep_state && m.store != nullptr);
    if (!status.ok()) {
      ++restore_errors_;
      first_restore_error_ = status;
      status = CreateManager(index, false);
      m.lost_state = true;
      if (!status.ok()) return;
    }
    m.online = true;
    Timed([&] { m.manager->Tick(At(now_)); });
    if (m.driver) Timed([&] { m.driver->Tick(At(now_)); });  // a round at once
    Drain(index);
  }

  static LatencySummary Summarize(std::vector<int32_t>& values) {
    LatencySummary summary;
    summary.count = values.size();
    if (values.empty()) return summary;
    std::sort(values.begin(), values.end());
    auto at = [&](double q) {
      size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1;
      return static_cast<double>(values[std::min(i, values.size() - 1)]) / 1000;
    };
    summary.p50 = at(0.50);
    summary.p90 = at(0.90);
    summary.p99 = at(0.99);
    summary.max = static_cast<double>(values.back()) / 1000;
    return summary;
  }

  Result<RunReport> Finish() {
    if (wrap_errors_ > 0) {
      return Status(ErrorCode::kInternal, std::to_string(wrap_errors_) + " Wrap calls failed");
    }
    if (restore_errors_ > 0) {
      return Status(
          ErrorCode::kPersistence,
          "a participant could not be restored from its store: " + first_restore_error_.ToString());
    }
    for (Member& m : members_) RetireDriver(m);
    RunReport& r = report_;
    r.scenario = s_.name;
    r.seed = s_.seed;
    r.participants = n_;
    r.loss = s_.loss.MeanLoss();
    r.recovery = RecoveryName(s_.recovery);
    r.dialect = DialectName(s_.config.dialect);
    r.period_s = static_cast<double>(s_.period.count()) / 1000;
    r.simulated_s = static_cast<double>(end_) / 1000;
    r.messages_sent = messages_.size();
    r.per_participant.assign(n_, {});
    const int64_t s = s_.period.count();
    std::vector<int32_t> latencies, detections, acks;
    latencies.reserve(messages_.size() * (n_ - 1));
    for (uint64_t m = 0; m < messages_.size(); ++m) {
      const MessageInfo& info = messages_[m];
      r.per_participant[info.sender].sent++;
      if (info.acked_at != kNot) {
        ++r.acknowledged;
        int64_t ack = info.acked_at - info.sent_at;
        if (ack <= s) ++r.acknowledged_within_s;
        acks.push_back(static_cast<int32_t>(ack));
      }
      bool all_within_6s = true;
      bool any_missed = false;
      for (size_t p = 0; p < n_; ++p) {
        if (p == info.sender) continue;
        ++r.pairs;
        auto& pp = r.per_participant[p];
        ++pp.expected;
        int32_t delivered = delivered_at_[Pair(m, p)];
        if (delivered != kNot) {
          ++r.delivered;
          ++pp.delivered;
          latencies.push_back(delivered);
          if (delivered <= s) ++r.delivered_within_s;
          if (delivered <= 3 * s) ++r.delivered_within_3s;
          if (delivered <= 6 * s) ++r.delivered_within_6s;
        } else {
          ++r.lost;
          ++pp.lost;
        }
        if (delivered == kNot || delivered > 6 * s) all_within_6s = false;
        if (missed_[Pair(m, p)]) {
          ++r.missed;
          any_missed = true;
          int32_t detected = detected_at_[Pair(m, p)];
          if (delivered != kNot && (detected == kNot || delivered < detected)) {
            detected = delivered;
          }
          if (detected != kNot) {
            ++r.missed_detected;
            if (detected <= 3 * s) ++r.missed_detected_within_3s;
            detections.push_back(detected);
          }
        }
      }
      if (all_within_6s) ++r.messages_fully_delivered_within_6s;
      if (any_missed) ++r.messages_missed;
    }
    r.latency = Summarize(latencies);
    r.detection_latency = Summarize(detections);
    r.ack_latency = Summarize(acks);
    // At most 400 points of the latency distribution, for the CDF plot.
    if (!latencies.empty()) {
      size_t points = std::min<size_t>(400, latencies.size());
      for (size_t i = 0; i < points; ++i) {
        size_t at = (latencies.size() - 1) * i / std::max<size_t>(points - 1, 1);
        r.latency_cdf_points.push_back(static_cast<double>(latencies[at]) / 1000);
      }
    }
    if (options_.measure_cpu) {
      r.cpu_measured = true;
      r.engine_seconds = static_cast<double>(engine_ns_) / 1e9;
      r.engine_calls = engine_calls_;
    }
    return r;
  }

  const Scenario& s_;
  const RunOptions& options_;
  const size_t n_;
  const Timestamp start_ = TimestampFromUnixMillis(1'800'000'000'000);
  std::mt19937_64 net_rng_;
  std::mt19937_64 traffic_rng_;
  std::mt19937_64 store_rng_;
  std::shared_ptr<catchup::ChannelLog> store_log_;  // the store node (sds-r-store)
  std::unique_ptr<catchup::LogService> store_service_;
  std::unordered_map<uint32_t, Exchange> exchanges_;
  uint32_t next_exchange_ = 0;
  bool applying_catchup_ = false;
  std::unordered_set<size_t> excused_;  // pairs catch-up declared irretrievable
  std::priority_queue<Item, std::vector<Item>, Later> queue_;
  uint64_t order_ = 0;
  int64_t now_ = 0;
  int64_t end_ = 0;
  int64_t sample_every_ = 1;
  std::vector<Member> members_;
  std::vector<std::string> store_paths_;
  std::vector<uint8_t> link_bad_;
  std::vector<MessageInfo> messages_;
  // Per (message, recipient): ms after sending, or kNot.
  std::vector<int32_t> delivered_at_, detected_at_, received_at_;
  std::vector<uint8_t> missed_;  // the first transmission did not reach the recipient
  std::vector<uint32_t> last_history_;
  std::vector<RunReport::PerParticipant> per_;
  const BroadcastRecord* current_ = nullptr;  // the message being unwrapped
  uint64_t sent_pairs_ = 0, delivered_pairs_ = 0;
  uint64_t wrap_errors_ = 0, restore_errors_ = 0;
  Status first_restore_error_;
  int64_t engine_ns_ = 0;
  uint64_t engine_calls_ = 0;
  RunReport report_;
};

}  // namespace

Result<RunReport> RunScenario(const Scenario& scenario, const RunOptions& options) {
  Simulation simulation(scenario, options);
  return simulation.Run();
}

}  // namespace sds::sim
