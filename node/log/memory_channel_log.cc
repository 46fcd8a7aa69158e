#include "sds/memory_channel_log.h"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "append_filter.h"

namespace sds::catchup {
namespace {

struct StoredEntry {
  MessageId message_id;
  LamportTime lamport = 0;
  Timestamp received_at;
  std::string hint;  // empty: none
  SharedBytes payload;
};

// entries[i] has seq meta.low_seq + i: density is a property of the layout.
struct Channel {
  ChannelMeta meta;
  std::deque<StoredEntry> entries;
  std::unordered_map<MessageId, uint64_t> seq_by_id;
  std::unordered_map<std::string, uint64_t> seq_by_hint;
};

std::string HintKey(ByteSpan hint) { return std::string(hint.begin(), hint.end()); }

Entry ToEntry(const StoredEntry& e, uint64_t seq, bool with_payload) {
  Entry out;
  out.seq = seq;
  out.message_id = e.message_id;
  out.lamport = e.lamport;
  if (with_payload) out.payload = e.payload.ToBytes();
  return out;
}

}  // namespace

class MemoryChannelLog::Impl : public ReadView {
 public:
  explicit Impl(ChannelLogOptions options) : options_(std::move(options)) {}
  Impl(const Impl& other)
      : ReadView(),
        options_(other.options_),
        channels_(other.channels_),
        total_bytes_(other.total_bytes_) {}

  // ---- ReadView ----
  const ChannelMeta* Find(const ChannelId& channel_id) override {
    auto it = channels_.find(channel_id);
    return it == channels_.end() ? nullptr : &it->second.meta;
  }

  Status ReadForward(const ChannelId& channel_id, uint64_t from_seq, const ReadLimits& limits,
                     std::vector<Entry>& out) override {
    auto it = channels_.find(channel_id);
    if (it == channels_.end()) return Status::Ok();
    const Channel& ch = it->second;
    uint64_t count = 0, bytes = 0;
    for (uint64_t seq = std::max(from_seq, ch.meta.low_seq); seq <= ch.meta.head_seq; ++seq) {
      const StoredEntry& e = ch.entries[seq - ch.meta.low_seq];
      if (!internal::TakesNext(limits, count, bytes, e.payload.size())) break;
      out.push_back(ToEntry(e, seq, limits.with_payload));
      ++count;
      bytes += e.payload.size();
    }
    return Status::Ok();
  }

  Status ReadBackward(const ChannelId& channel_id, uint64_t through_seq, const ReadLimits& limits,
                      std::vector<Entry>& out) override {
    auto it = channels_.find(channel_id);
    if (it == channels_.end()) return Status::Ok();
    const Channel& ch = it->second;
    uint64_t last = std::min(through_seq, ch.meta.head_seq);
    uint64_t count = 0, bytes = 0;
    uint64_t first = last + 1;  // the collected range is [first, last]
    while (first > ch.meta.low_seq) {
      const StoredEntry& e = ch.entries[first - 1 - ch.meta.low_seq];
      if (!internal::TakesNext(limits, count, bytes, e.payload.size())) break;
      --first;
      ++count;
      bytes += e.payload.size();
    }
    for (uint64_t seq = first; seq <= last && seq >= ch.meta.low_seq; ++seq) {
      out.push_back(ToEntry(ch.entries[seq - ch.meta.low_seq], seq, limits.with_payload));
    }
    return Status::Ok();
  }

  Result<std::optional<Entry>> FindById(const ChannelId& channel_id, const MessageId& id,
                                        bool with_payload) override {
    auto it = channels_.find(channel_id);
    if (it == channels_.end()) return std::optional<Entry>();
    auto found = it->second.seq_by_id.find(id);
    if (found == it->second.seq_by_id.end()) return std::optional<Entry>();
    return std::optional<Entry>(At(it->second, found->second, with_payload));
  }

  Result<std::optional<Entry>> FindByHint(const ChannelId& channel_id, ByteSpan hint,
                                          bool with_payload) override {
    auto it = channels_.find(channel_id);
    if (it == channels_.end() || hint.empty()) return std::optional<Entry>();
    auto found = it->second.seq_by_hint.find(HintKey(hint));
    if (found == it->second.seq_by_hint.end()) return std::optional<Entry>();
    return std::optional<Entry>(At(it->second, found->second, with_payload));
  }

  // ---- writes (caller holds the exclusive lock) ----
  Channel& Create(const ChannelId& channel_id) {
    Channel& ch = channels_[channel_id];
    ch = Channel{};
    ch.meta.channel_id = channel_id;
    ch.meta.epoch = internal::MintEpoch(options_.entropy);
    return ch;
  }

  // Stores one filtered input; sets its disposition and seq.
  void Store(internal::FilteredInput& in, Timestamp now, std::set<ChannelId>* touched) {
    AppendResult& r = in.result;
    auto it = channels_.find(r.channel_id);
    Channel& ch = it != channels_.end() ? it->second : Create(r.channel_id);
    auto existing = ch.seq_by_id.find(r.message_id);
    if (existing != ch.seq_by_id.end()) {
      r.disposition = AppendDisposition::kDuplicate;
      r.seq = existing->second;
      StoredEntry& e = ch.entries[r.seq - ch.meta.low_seq];
      if (e.hint.empty() && !in.hint.empty()) {
        e.hint = HintKey(in.hint);
        ch.seq_by_hint.emplace(e.hint, r.seq);
      }
      return;
    }
    uint64_t seq = ++ch.meta.head_seq;
    StoredEntry e{r.message_id, in.lamport, now, HintKey(in.hint),
                  SharedBytes(Bytes(in.payload.begin(), in.payload.end()))};
    ch.seq_by_id.emplace(r.message_id, seq);
    if (!e.hint.empty()) ch.seq_by_hint.emplace(e.hint, seq);
    ch.meta.max_lamport = std::max(ch.meta.max_lamport, in.lamport);
    ch.meta.retained_count += 1;
    ch.meta.retained_bytes += e.payload.size();
    total_bytes_ += e.payload.size();
    ch.entries.push_back(std::move(e));
    r.disposition = AppendDisposition::kAppended;
    r.seq = seq;
    if (touched != nullptr) touched->insert(r.channel_id);
  }

  void DropFront(Channel& ch) {
    StoredEntry& e = ch.entries.front();
    uint64_t seq = ch.meta.low_seq;
    ch.seq_by_id.erase(e.message_id);
    if (!e.hint.empty()) {
      auto h = ch.seq_by_hint.find(e.hint);
      if (h != ch.seq_by_hint.end() && h->second == seq) ch.seq_by_hint.erase(h);
    }
    ch.meta.retained_count -= 1;
    ch.meta.retained_bytes -= e.payload.size();
    total_bytes_ -= e.payload.size();
    ch.entries.pop_front();
    ch.meta.low_seq += 1;
  }

  bool Expired(const Channel& ch, Timestamp now) const {
    const RetentionPolicy& p = options_.retention;
    if (ch.entries.empty()) return false;
    if (p.max_entries_per_channel != 0 && ch.meta.retained_count > p.max_entries_per_channel)
      return true;
    if (p.max_bytes_per_channel != 0 && ch.meta.retained_bytes > p.max_bytes_per_channel)
      return true;
    return p.max_age.count() > 0 && ch.entries.front().received_at < now - p.max_age;
  }

  uint64_t RetainChannel(Channel& ch, Timestamp now) {
    uint64_t removed = 0;
    while (Expired(ch, now)) {
      DropFront(ch);
      ++removed;
    }
    return removed;
  }

  uint64_t RetainTotal() {
    uint64_t cap = options_.retention.max_bytes_total, removed = 0;
    if (cap == 0) return 0;
    while (total_bytes_ > cap) {
      Channel* oldest = nullptr;
      for (auto& [id, ch] : channels_) {
        if (ch.entries.empty()) continue;
        if (oldest == nullptr ||
            ch.entries.front().received_at < oldest->entries.front().received_at)
          oldest = &ch;
      }
      if (oldest == nullptr) break;
      DropFront(*oldest);
      ++removed;
    }
    return removed;
  }

  Entry At(const Channel& ch, uint64_t seq, bool with_payload) const {
    return ToEntry(ch.entries[seq - ch.meta.low_seq], seq, with_payload);
  }

  ChannelLogOptions options_;
  std::map<ChannelId, Channel> channels_;
  uint64_t total_bytes_ = 0;
  mutable std::shared_mutex mutex_;
};

Result<std::unique_ptr<MemoryChannelLog>> MemoryChannelLog::Create(ChannelLogOptions options) {
  SDS_RETURN_IF_ERROR(internal::ValidateOptions(options));
  Bytes store_id =
      options.store_id.empty() ? internal::MintStoreId(options.entropy) : options.store_id;
  auto log = std::unique_ptr<MemoryChannelLog>(
      new MemoryChannelLog(std::make_unique<Impl>(std::move(options))));
  log->store_id_ = std::move(store_id);
  return log;
}

MemoryChannelLog::MemoryChannelLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MemoryChannelLog::~MemoryChannelLog() = default;

std::unique_ptr<MemoryChannelLog> MemoryChannelLog::Clone() const {
  std::shared_lock lock(impl_->mutex_);
  auto copy =
      std::unique_ptr<MemoryChannelLog>(new MemoryChannelLog(std::make_unique<Impl>(*impl_)));
  copy->store_id_ = store_id_;
  return copy;
}

Result<std::vector<AppendResult>> MemoryChannelLog::Append(std::span<const AppendInput> inputs,
                                                           Timestamp now) {
  std::vector<AppendResult> results;
  results.reserve(inputs.size());
  std::unique_lock lock(impl_->mutex_);
  std::set<ChannelId> touched;
  for (const AppendInput& input : inputs) {
    internal::FilteredInput in = internal::FilterAppendInput(input, impl_->options_);
    if (in.result.disposition == AppendDisposition::kAppended) impl_->Store(in, now, &touched);
    results.push_back(std::move(in.result));
  }
  if (impl_->options_.retention_at_append && !touched.empty()) {
    for (const ChannelId& id : touched) impl_->RetainChannel(impl_->channels_.at(id), now);
    impl_->RetainTotal();
  }
  return results;
}

Result<uint64_t> MemoryChannelLog::ApplyRetention(Timestamp now) {
  std::unique_lock lock(impl_->mutex_);
  uint64_t removed = 0;
  for (auto& [id, ch] : impl_->channels_) removed += impl_->RetainChannel(ch, now);
  return removed + impl_->RetainTotal();
}

Status MemoryChannelLog::Read(const std::function<Status(ReadView&)>& body) {
  std::shared_lock lock(impl_->mutex_);
  return body(*impl_);
}

Result<std::vector<ChannelMeta>> MemoryChannelLog::Channels() {
  std::shared_lock lock(impl_->mutex_);
  std::vector<ChannelMeta> out;
  out.reserve(impl_->channels_.size());
  for (const auto& [id, ch] : impl_->channels_) out.push_back(ch.meta);
  return out;
}

Status MemoryChannelLog::MarkRestored() {
  std::unique_lock lock(impl_->mutex_);
  for (auto& [id, ch] : impl_->channels_)
    ch.meta.epoch = internal::MintEpoch(impl_->options_.entropy);
  return Status::Ok();
}

Status MemoryChannelLog::Import(const ChannelId& channel_id, std::span<const AppendInput> messages,
                                Timestamp now) {
  auto filtered = internal::FilterImport(channel_id, messages, impl_->options_);
  if (!filtered.ok()) return filtered.status();
  std::vector<internal::FilteredInput>& accepted = *filtered;
  std::unique_lock lock(impl_->mutex_);
  auto it = impl_->channels_.find(channel_id);
  if (it != impl_->channels_.end()) {
    impl_->total_bytes_ -= it->second.meta.retained_bytes;
  }
  impl_->Create(channel_id);
  for (internal::FilteredInput& in : accepted) impl_->Store(in, now, nullptr);
  return Status::Ok();
}

Status MemoryChannelLog::Truncate(const ChannelId& channel_id, uint64_t keep_through_seq) {
  std::unique_lock lock(impl_->mutex_);
  auto it = impl_->channels_.find(channel_id);
  if (it == impl_->channels_.end()) {
    return Status(ErrorCode::kUnknownChannel, "truncate: no such channel");
  }
  Channel& ch = it->second;
  if (keep_through_seq >= ch.meta.head_seq) return Status::Ok();
  while (!ch.entries.empty() && ch.meta.head_seq > keep_through_seq) {
    StoredEntry& e = ch.entries.back();
    ch.seq_by_id.erase(e.message_id);
    if (!e.hint.empty()) {
      auto h = ch.seq_by_hint.find(e.hint);
      if (h != ch.seq_by_hint.end() && h->second == ch.meta.head_seq) ch.seq_by_hint.erase(h);
    }
    ch.meta.retained_count -= 1;
    ch.meta.retained_bytes -= e.payload.size();
    impl_->total_bytes_ -= e.payload.size();
    ch.entries.pop_back();
    ch.meta.head_seq -= 1;
  }
  ch.meta.head_seq = keep_through_seq;
  if (ch.entries.empty()) ch.meta.low_seq = keep_through_seq + 1;
  ch.meta.max_lamport = 0;
  for (const StoredEntry& e : ch.entries)
    ch.meta.max_lamport = std::max(ch.meta.max_lamport, e.lamport);
  ch.meta.epoch = internal::MintEpoch(impl_->options_.entropy);
  return Status::Ok();
}

Status MemoryChannelLog::DropChannel(const ChannelId& channel_id) {
  std::unique_lock lock(impl_->mutex_);
  auto it = impl_->channels_.find(channel_id);
  if (it == impl_->channels_.end()) return Status::Ok();
  impl_->total_bytes_ -= it->second.meta.retained_bytes;
  impl_->channels_.erase(it);
  return Status::Ok();
}

}  // namespace sds::catchup
