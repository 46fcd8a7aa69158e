// Opens the ChannelLog a node serves, by StorageConfig: SQLite by default,
// in memory with --memory, PostgreSQL with --postgres <conninfo>. The one
// place that knows the backends.
#ifndef SDS_NODE_SERVER_CHANNEL_LOG_FACTORY_H_
#define SDS_NODE_SERVER_CHANNEL_LOG_FACTORY_H_

#include <memory>
#include <string>

#include "node_config.h"
#include "sds/channel_log.h"

namespace sds::node {

// Entropy from the operating system (getrandom).
catchup::EntropySource SystemEntropy();

catchup::RetentionPolicy RetentionFrom(const StorageConfig& storage);

// `entropy` empty: SystemEntropy().
Result<std::shared_ptr<catchup::ChannelLog>> OpenChannelLog(const StorageConfig& storage,
                                                            catchup::EntropySource entropy = {});

// "sqlite:<path>", "postgres:<conninfo without password>" or "memory", for logs.
std::string DescribeStorage(const StorageConfig& storage);

}  // namespace sds::node

#endif  // SDS_NODE_SERVER_CHANNEL_LOG_FACTORY_H_
