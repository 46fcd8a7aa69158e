// MemoryChannelLog: a ChannelLog held in memory, for tests and the simulator.
//
//   auto log = sds::catchup::MemoryChannelLog::Create({.entropy = my_entropy});
//
// Everything is lost with the object. Clone() takes an exact copy (a
// "backup"); a simulated restore of an older copy is Clone() earlier, then
// MarkRestored() on the copy when it is put back into service.
//
// Thread safety: calls may come from several threads; writes take an
// exclusive lock, Read() a shared one (reads run in parallel).
#ifndef SDS_MEMORY_CHANNEL_LOG_H_
#define SDS_MEMORY_CHANNEL_LOG_H_

#include <memory>

#include "sds/channel_log.h"

namespace sds::catchup {

class MemoryChannelLog : public ChannelLog {
 public:
  // kInvalidArgument without an entropy source.
  static Result<std::unique_ptr<MemoryChannelLog>> Create(ChannelLogOptions options);
  ~MemoryChannelLog() override;

  Result<std::vector<AppendResult>> Append(std::span<const AppendInput> inputs,
                                           Timestamp now) override;
  Result<uint64_t> ApplyRetention(Timestamp now) override;
  Status Read(const std::function<Status(ReadView&)>& body) override;
  Result<std::vector<ChannelMeta>> Channels() override;
  Status MarkRestored() override;
  Status Import(const ChannelId& channel_id, std::span<const AppendInput> messages,
                Timestamp now) override;
  Status Truncate(const ChannelId& channel_id, uint64_t keep_through_seq) override;
  Status DropChannel(const ChannelId& channel_id) override;

  // An exact copy: same store id, epochs, seqs and entries.
  std::unique_ptr<MemoryChannelLog> Clone() const;

  class Impl;

 private:
  explicit MemoryChannelLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sds::catchup

#endif  // SDS_MEMORY_CHANNEL_LOG_H_
