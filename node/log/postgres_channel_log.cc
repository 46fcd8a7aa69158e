#include "sds/postgres_channel_log.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "append_filter.h"

namespace sds::catchup {
namespace {

// Migration i (1-based) brings schema version i-1 to version i.
const char* const kMigrations[] = {
    // 1: the initial schema. Channels are named once and referred to by id;
    // the channel row is also the lock that serialises writers of a channel.
    R"sql(
CREATE TABLE sds_log_meta(key text PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE sds_channels(
  id bigserial PRIMARY KEY,
  name bytea NOT NULL UNIQUE,
  epoch bytea NOT NULL,
  low_seq bigint NOT NULL,
  head_seq bigint NOT NULL,
  max_lamport bigint NOT NULL,
  retained_count bigint NOT NULL,
  retained_bytes bigint NOT NULL);
CREATE TABLE sds_entries(
  channel bigint NOT NULL,
  seq bigint NOT NULL,
  message_id bytea NOT NULL,
  lamport bigint NOT NULL,
  received_at bigint NOT NULL,
  size bigint NOT NULL,
  hint bytea,
  payload bytea NOT NULL,
  PRIMARY KEY (channel, seq),
  UNIQUE (channel, message_id));
CREATE INDEX sds_entries_by_hint ON sds_entries(channel, hint) WHERE hint IS NOT NULL;
)sql",
};
constexpr int kLatestSchema = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));
static_assert(kLatestSchema == PostgresChannelLog::kSchemaVersion);

// Held (transaction-scoped) while a node creates or migrates the schema.
constexpr int64_t kSchemaLockKey = 0x5344534C;  // 'SDSL'

constexpr Oid kInt8Oid = 20;
constexpr Oid kByteaOid = 17;
constexpr Oid kTextOid = 25;

constexpr const char* kChannelColumns =
    "id, name, epoch, low_seq, head_seq, max_lamport, retained_count, retained_bytes";

ByteSpan Span(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

void IgnoreNotice(void*, const char*) {}

std::string ConnMessage(PGconn* conn) {
  if (conn == nullptr) return "out of memory";
  std::string m = PQerrorMessage(conn);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

constexpr Oid kInt8ArrayOid = 1016;
constexpr Oid kByteaArrayOid = 1001;

void PutInt32(std::string& out, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(u >> (24 - 8 * i)));
}

// A one-dimensional array parameter in PostgreSQL's binary array format.
class BinaryArray {
 public:
  explicit BinaryArray(Oid element_type) : element_type_(element_type) {}
  void Add(ByteSpan value) {
    PutInt32(elements_, static_cast<int32_t>(value.size()));
    elements_.append(reinterpret_cast<const char*>(value.data()), value.size());
    ++count_;
  }
  void AddInt(int64_t v) {
    PutInt32(elements_, 8);
    auto u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) elements_.push_back(static_cast<char>(u >> (56 - 8 * i)));
    ++count_;
  }
  void AddNull() {
    PutInt32(elements_, -1);
    has_null_ = true;
    ++count_;
  }
  std::string Encode() const {
    std::string out;
    PutInt32(out, 1);  // dimensions
    PutInt32(out, has_null_ ? 1 : 0);
    PutInt32(out, static_cast<int32_t>(element_type_));
    PutInt32(out, count_);
    PutInt32(out, 1);  // lower bound
    return out + elements_;
  }

 private:
  Oid element_type_;
  std::string elements_;
  int32_t count_ = 0;
  bool has_null_ = false;
};

// Parameters of one statement, all sent in binary.
class Params {
 public:
  Params& Int(int64_t v) {
    std::string s(8, '\0');
    auto u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(u >> (56 - 8 * i));
    return Add(kInt8Oid, std::move(s));
  }
  Params& U(uint64_t v) { return Int(static_cast<int64_t>(v)); }
  Params& Bytea(ByteSpan b) { return Add(kByteaOid, std::string(b.begin(), b.end())); }
  Params& Bytea(const std::string& s) { return Add(kByteaOid, s); }
  Params& Text(const std::string& s) { return Add(kTextOid, s); }
  Params& Array(Oid array_type, const BinaryArray& array) {
    return Add(array_type, array.Encode());
  }
  Params& NullBytea() {
    types_.push_back(kByteaOid);
    values_.push_back(std::nullopt);
    return *this;
  }

  int size() const { return static_cast<int>(values_.size()); }
  const std::vector<Oid>& types() const { return types_; }
  void Pointers(std::vector<const char*>& values, std::vector<int>& lengths,
                std::vector<int>& formats) const {
    for (const auto& v : values_) {
      values.push_back(v ? v->data() : nullptr);
      lengths.push_back(v ? static_cast<int>(v->size()) : 0);
      formats.push_back(1);
    }
  }

 private:
  Params& Add(Oid type, std::string value) {
    types_.push_back(type);
    values_.push_back(std::move(value));
    return *this;
  }
  std::vector<Oid> types_;
  std::vector<std::optional<std::string>> values_;
};

// A result in binary format.
class Rows {
 public:
  explicit Rows(PGresult* res) : res_(res, PQclear) {}
  int size() const { return PQntuples(res_.get()); }
  bool IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  int64_t Int(int row, int col) const {
    const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(res_.get(), row, col));
    int n = PQgetlength(res_.get(), row, col);
    uint64_t u = 0;
    for (int i = 0; i < n; ++i) u = u << 8 | p[i];
    // Sign-extend the narrower integer types (int2, int4).
    if (n > 0 && n < 8 && (p[0] & 0x80) != 0) u |= ~uint64_t{0} << (8 * n);
    return static_cast<int64_t>(u);
  }
  uint64_t U(int row, int col) const { return static_cast<uint64_t>(Int(row, col)); }
  ByteSpan View(int row, int col) const {
    const auto* p = reinterpret_cast<const uint8_t*>(PQgetvalue(res_.get(), row, col));
    return ByteSpan(p, static_cast<size_t>(PQgetlength(res_.get(), row, col)));
  }
  Bytes Blob(int row, int col) const {
    ByteSpan v = View(row, col);
    return Bytes(v.begin(), v.end());
  }
  std::string Str(int row, int col) const {
    ByteSpan v = View(row, col);
    return std::string(v.begin(), v.end());
  }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> res_;
};

struct ChannelRow {
  int64_t id = 0;
  ChannelMeta meta;
};

}  // namespace

class PostgresChannelLog::Impl {
 public:
  ~Impl() {
    if (conn_ != nullptr) PQfinish(conn_);
  }

  // ---- plumbing ----
  Status Failure(const std::string& what, const std::string& detail) const {
    return Status(ErrorCode::kPersistence, "postgres: " + what + ": " + detail);
  }
  Status Corrupt(const std::string& what) const {
    return Status(ErrorCode::kPersistence, "postgres: corrupt channel log: " + what);
  }
  bool Broken() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }

  // Connects, or reconnects a broken connection; prepared statements are per
  // connection and are prepared again.
  Status EnsureConnected() {
    if (!Broken()) return Status::Ok();
    if (conn_ == nullptr) {
      conn_ = PQconnectdb(conninfo_.c_str());
    } else {
      PQreset(conn_);
    }
    statements_.clear();
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      return Failure("cannot connect", ConnMessage(conn_));
    }
    PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr);
    return Status::Ok();
  }

  // Turns a failed result into a Status and remembers whether a retry may
  // succeed (serialization failure, deadlock).
  Status ResultError(PGresult* res, const std::string& what) {
    const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    last_sqlstate_ = state != nullptr ? state : "";
    std::string detail = res != nullptr ? PQresultErrorMessage(res) : ConnMessage(conn_);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
    if (res != nullptr) PQclear(res);
    if (Broken()) return Failure("connection lost (" + what + ")", detail);
    return Failure(what, detail);
  }
  bool Retryable() const { return last_sqlstate_ == "40001" || last_sqlstate_ == "40P01"; }

  // A statement without parameters (may hold several).
  Status Simple(const char* sql) {
    PGresult* res = PQexec(conn_, sql);
    ExecStatusType st = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ResultError(res, sql);
    PQclear(res);
    return Status::Ok();
  }

  // A parameterised statement, prepared on first use on this connection.
  Result<Rows> Exec(const char* sql, const Params& params = Params()) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      std::string name = "sds" + std::to_string(statements_.size());
      PGresult* res = PQprepare(conn_, name.c_str(), sql, params.size(), params.types().data());
      if (res == nullptr || PQresultStatus(res) != PGRES_COMMAND_OK) {
        return ResultError(res, std::string("preparing ") + sql);
      }
      PQclear(res);
      it = statements_.emplace(sql, std::move(name)).first;
    }
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    params.Pointers(values, lengths, formats);
    PGresult* res = PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(),
                                   lengths.data(), formats.data(), /*resultFormat=*/1);
    ExecStatusType st = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ResultError(res, sql);
    return Rows(res);
  }

  // Runs `body` in a write transaction, retried from the start after a
  // serialization failure or deadlock. `body` must redo all its work.
  template <typename Body>
  Status Write(Body&& body) {
    for (int attempt = 0;; ++attempt) {
      SDS_RETURN_IF_ERROR(EnsureConnected());
      last_sqlstate_.clear();
      Status status = Simple("BEGIN");
      if (status.ok()) status = body();
      if (status.ok()) {
        status = Simple("COMMIT");
        if (status.ok()) return status;
        if (Broken()) {
          return Status(
              status.code(),
              status.message() + " (the commit's outcome is unknown; appends may be retried)");
        }
      }
      if (!Broken()) PQclear(PQexec(conn_, "ROLLBACK"));
      if (!Retryable() || attempt >= postgres_options_.max_retries) return status;
      ++retries_;
    }
  }

  // ---- opening ----
  Status Open(const std::string& conninfo, ChannelLogOptions options,
              const PostgresChannelLog::Options& postgres_options) {
    options_ = std::move(options);
    postgres_options_ = postgres_options;
    conninfo_ = conninfo;
    if (postgres_options.connect_timeout_s > 0) {
      // libpq takes the last value of a repeated keyword; a URI gets it as a
      // parameter.
      bool uri = conninfo.rfind("postgresql://", 0) == 0 || conninfo.rfind("postgres://", 0) == 0;
      std::string timeout = std::to_string(postgres_options.connect_timeout_s);
      if (!uri) {
        conninfo_ = "connect_timeout=" + timeout + " " + conninfo;
      } else if (conninfo.find("connect_timeout=") == std::string::npos) {
        conninfo_ = conninfo + (conninfo.find('?') == std::string::npos ? "?" : "&") +
                    "connect_timeout=" + timeout;
      }
    }
    return Write([&] { return OpenSchema(); });
  }

  Status OpenSchema() {
    auto locked = Exec("SELECT pg_advisory_xact_lock($1)", Params().Int(kSchemaLockKey));
    if (!locked.ok()) return locked.status();
    auto exists = Exec("SELECT (to_regclass('sds_log_schema') IS NOT NULL)::int4");
    if (!exists.ok()) return exists.status();
    if (exists->Int(0, 0) == 0) {
      SDS_RETURN_IF_ERROR(
          Simple("CREATE TABLE sds_log_schema(version integer NOT NULL);"
                 "INSERT INTO sds_log_schema VALUES(0)"));
    }
    auto version_rows = Exec("SELECT version::int8 FROM sds_log_schema");
    if (!version_rows.ok()) return version_rows.status();
    if (version_rows->size() != 1) return Corrupt("sds_log_schema does not hold one row");
    int64_t version = version_rows->Int(0, 0);
    if (version > kLatestSchema) {
      return Status(ErrorCode::kPersistence,
                    "postgres: written by a newer sds (channel log schema version " +
                        std::to_string(version) + "; this build knows up to " +
                        std::to_string(kLatestSchema) + ")");
    }
    if (version < 0) return Corrupt("schema version " + std::to_string(version));
    for (int64_t v = version; v < kLatestSchema; ++v) SDS_RETURN_IF_ERROR(Simple(kMigrations[v]));
    if (version != kLatestSchema) {
      auto updated =
          Exec("UPDATE sds_log_schema SET version=$1::int4", Params().Int(kLatestSchema));
      if (!updated.ok()) return updated.status();
    }
    auto stored = Exec("SELECT value FROM sds_log_meta WHERE key='store_id'");
    if (!stored.ok()) return stored.status();
    std::optional<Bytes> stored_id;
    if (stored->size() == 1) stored_id = stored->Blob(0, 0);
    if (stored_id && !stored_id->empty()) {
      if (!options_.store_id.empty() && *stored_id != options_.store_id) {
        return Status(ErrorCode::kInvalidArgument,
                      "postgres: the database belongs to store_id " + Hex(ToString(*stored_id)) +
                          ", not the configured " + Hex(ToString(options_.store_id)) +
                          " (every node of a deployment uses the database's)");
      }
      store_id_ = *stored_id;
      return Status::Ok();
    }
    store_id_ =
        options_.store_id.empty() ? internal::MintStoreId(options_.entropy) : options_.store_id;
    auto inserted = Exec(
        "INSERT INTO sds_log_meta(key, value) VALUES('store_id', $1)"
        " ON CONFLICT (key) DO UPDATE SET value=EXCLUDED.value",
        Params().Bytea(ByteSpan(store_id_)));
    return inserted.status();
  }

  // ---- channel rows ----
  Result<ChannelRow> ParseChannel(const Rows& rows, int r) const {
    ChannelRow ch;
    ch.id = rows.Int(r, 0);
    ch.meta.channel_id = rows.Str(r, 1);
    ByteSpan epoch = rows.View(r, 2);
    if (epoch.size() != ch.meta.epoch.size()) return Corrupt("an epoch is not 16 bytes");
    std::copy(epoch.begin(), epoch.end(), ch.meta.epoch.begin());
    ch.meta.low_seq = rows.U(r, 3);
    ch.meta.head_seq = rows.U(r, 4);
    ch.meta.max_lamport = rows.Int(r, 5);
    ch.meta.retained_count = rows.U(r, 6);
    ch.meta.retained_bytes = rows.U(r, 7);
    const ChannelMeta& m = ch.meta;
    if (m.low_seq == 0 || m.low_seq > m.head_seq + 1 ||
        m.retained_count != m.head_seq + 1 - m.low_seq) {
      return Corrupt("channel seqs out of order (low " + std::to_string(m.low_seq) + ", head " +
                     std::to_string(m.head_seq) + ", count " + std::to_string(m.retained_count) +
                     ")");
    }
    return ch;
  }

  // Locks the channel's row for this transaction (creating it when `create`);
  // nullopt when it does not exist and `create` is false.
  Result<std::optional<ChannelRow>> LockChannel(const ChannelId& name, bool create) {
    static const std::string kSelect =
        std::string("SELECT ") + kChannelColumns + " FROM sds_channels WHERE name=$1 FOR UPDATE";
    // A concurrent DropChannel may remove the row between the insert and the
    // select; then the insert is tried again.
    for (int attempt = 0; attempt < 8; ++attempt) {
      auto rows = Exec(kSelect.c_str(), Params().Bytea(name));
      if (!rows.ok()) return rows.status();
      if (rows->size() == 1) {
        auto ch = ParseChannel(*rows, 0);
        if (!ch.ok()) return ch.status();
        return std::optional<ChannelRow>(std::move(*ch));
      }
      if (!create) return std::optional<ChannelRow>();
      Epoch epoch = internal::MintEpoch(options_.entropy);
      auto inserted = Exec(
          "INSERT INTO sds_channels(name, epoch, low_seq, head_seq, max_lamport, retained_count,"
          " retained_bytes) VALUES($1, $2, 1, 0, 0, 0, 0) ON CONFLICT (name) DO NOTHING",
          Params().Bytea(name).Bytea(ByteSpan(epoch)));
      if (!inserted.ok()) return inserted.status();
    }
    return Failure("creating channel " + Hex(name), "the row kept disappearing");
  }

  // Every channel's row, locked, in name order; with `skip_locked`, only
  // those no other transaction holds (and never waiting).
  Result<std::vector<ChannelRow>> LockAllChannels(bool skip_locked = false) {
    static const std::string kSelect =
        std::string("SELECT ") + kChannelColumns + " FROM sds_channels ORDER BY name FOR UPDATE";
    static const std::string kSelectSkip = kSelect + " SKIP LOCKED";
    auto rows = Exec(skip_locked ? kSelectSkip.c_str() : kSelect.c_str());
    if (!rows.ok()) return rows.status();
    std::vector<ChannelRow> out;
    for (int r = 0; r < rows->size(); ++r) {
      auto ch = ParseChannel(*rows, r);
      if (!ch.ok()) return ch.status();
      out.push_back(std::move(*ch));
    }
    return out;
  }

  Status SaveChannel(const ChannelRow& ch) {
    const ChannelMeta& m = ch.meta;
    return Exec(
               "UPDATE sds_channels SET epoch=$2, low_seq=$3, head_seq=$4, max_lamport=$5,"
               " retained_count=$6, retained_bytes=$7 WHERE id=$1",
               Params()
                   .Int(ch.id)
                   .Bytea(ByteSpan(m.epoch))
                   .U(m.low_seq)
                   .U(m.head_seq)
                   .Int(m.max_lamport)
                   .U(m.retained_count)
                   .U(m.retained_bytes))
        .status();
  }

  Status Notify(const ChannelRow& ch) {
    return Exec("SELECT pg_notify($1, $2)",
                Params()
                    .Text(kNotifyChannel)
                    .Text(std::to_string(ch.meta.head_seq) + " " + Hex(ch.meta.channel_id)))
        .status();
  }

  // Stores the filtered inputs of one (locked) channel, in order, setting
  // each one's disposition and seq; the caller saves the row. A few round
  // trips whatever the batch size: the ids already stored are looked up in
  // one query, the new entries inserted in another (the row lock keeps every
  // other writer of the channel out meanwhile, so nothing can conflict).
  Status StoreBatch(const std::vector<internal::FilteredInput*>& inputs, Timestamp now,
                    ChannelRow& ch) {
    if (inputs.empty()) return Status::Ok();
    struct Known {
      uint64_t seq;
      bool has_hint;
      internal::FilteredInput* pending;  // new in this batch: not yet inserted
    };
    std::map<MessageId, Known> known;
    {
      BinaryArray ids(kByteaOid);
      for (const internal::FilteredInput* in : inputs) ids.Add(Span(in->result.message_id));
      auto rows = Exec(
          "SELECT message_id, seq, (hint IS NOT NULL)::int4 FROM sds_entries"
          " WHERE channel=$1 AND message_id = ANY($2)",
          Params().Int(ch.id).Array(kByteaArrayOid, ids));
      if (!rows.ok()) return rows.status();
      for (int r = 0; r < rows->size(); ++r) {
        known[rows->Str(r, 0)] = Known{rows->U(r, 1), rows->Int(r, 2) != 0, nullptr};
      }
    }
    std::vector<internal::FilteredInput*> fresh;
    std::vector<std::pair<uint64_t, ByteSpan>> hint_updates;
    ChannelMeta& m = ch.meta;
    for (internal::FilteredInput* in : inputs) {
      AppendResult& r = in->result;
      auto it = known.find(r.message_id);
      if (it != known.end()) {
        // Already there (or earlier in this batch): its seq; record a hint
        // it lacked.
        r.disposition = AppendDisposition::kDuplicate;
        r.seq = it->second.seq;
        if (!it->second.has_hint && !in->hint.empty()) {
          it->second.has_hint = true;
          if (it->second.pending != nullptr) {
            it->second.pending->hint = in->hint;
          } else {
            hint_updates.emplace_back(r.seq, in->hint);
          }
        }
        continue;
      }
      uint64_t seq = m.head_seq + 1;
      m.head_seq = seq;
      m.max_lamport = std::max(m.max_lamport, in->lamport);
      m.retained_count += 1;
      m.retained_bytes += in->payload.size();
      r.disposition = AppendDisposition::kAppended;
      r.seq = seq;
      known[r.message_id] = Known{seq, !in->hint.empty(), in};
      fresh.push_back(in);
    }
    if (!fresh.empty()) {
      BinaryArray seqs(kInt8Oid), ids(kByteaOid), lamports(kInt8Oid), sizes(kInt8Oid),
          hints(kByteaOid), payloads(kByteaOid);
      for (const internal::FilteredInput* in : fresh) {
        seqs.AddInt(static_cast<int64_t>(in->result.seq));
        ids.Add(Span(in->result.message_id));
        lamports.AddInt(in->lamport);
        sizes.AddInt(static_cast<int64_t>(in->payload.size()));
        if (in->hint.empty()) {
          hints.AddNull();
        } else {
          hints.Add(in->hint);
        }
        payloads.Add(in->payload);
      }
      auto inserted = Exec(
          "INSERT INTO sds_entries(channel, seq, message_id, lamport, received_at, size, hint,"
          " payload) SELECT $1, e.seq, e.id, e.lamport, $2, e.size, e.hint, e.payload"
          " FROM unnest($3, $4, $5, $6, $7, $8) AS e(seq, id, lamport, size, hint, payload)",
          Params()
              .Int(ch.id)
              .Int(UnixMillis(now))
              .Array(kInt8ArrayOid, seqs)
              .Array(kByteaArrayOid, ids)
              .Array(kInt8ArrayOid, lamports)
              .Array(kInt8ArrayOid, sizes)
              .Array(kByteaArrayOid, hints)
              .Array(kByteaArrayOid, payloads));
      if (!inserted.ok()) return inserted.status();
    }
    for (const auto& [seq, hint] : hint_updates) {
      auto updated = Exec("UPDATE sds_entries SET hint=$3 WHERE channel=$1 AND seq=$2",
                          Params().Int(ch.id).U(seq).Bytea(hint));
      if (!updated.ok()) return updated.status();
    }
    return Status::Ok();
  }

  // ---- retention (inside Write, on locked rows) ----
  // Removes the expired prefix of one channel; returns how many entries.
  Result<uint64_t> RetainChannel(ChannelRow& ch, Timestamp now) {
    const RetentionPolicy& p = options_.retention;
    ChannelMeta& m = ch.meta;
    if (m.retained_count == 0) return uint64_t{0};
    bool over_count =
        p.max_entries_per_channel != 0 && m.retained_count > p.max_entries_per_channel;
    bool over_bytes = p.max_bytes_per_channel != 0 && m.retained_bytes > p.max_bytes_per_channel;
    if (!over_count && !over_bytes && p.max_age.count() <= 0) return uint64_t{0};
    const int64_t cutoff = p.max_age.count() > 0 ? UnixMillis(now - p.max_age) : INT64_MIN;
    uint64_t new_low = m.low_seq, count = m.retained_count, bytes = m.retained_bytes;
    // The prefix is read in growing chunks: usually it is a few entries, or
    // none (then one row is read).
    uint64_t chunk = over_count ? m.retained_count - p.max_entries_per_channel + 1 : 1;
    chunk = std::min<uint64_t>(chunk, 4096);
    bool done = false;
    while (!done && count > 0) {
      auto rows = Exec(
          "SELECT seq, size, received_at FROM sds_entries WHERE channel=$1 AND seq>=$2"
          " ORDER BY seq LIMIT $3",
          Params().Int(ch.id).U(new_low).U(chunk));
      if (!rows.ok()) return rows.status();
      if (rows->size() == 0) return Corrupt("entries missing from seq " + std::to_string(new_low));
      for (int r = 0; r < rows->size() && !done; ++r) {
        bool expired = (p.max_entries_per_channel != 0 && count > p.max_entries_per_channel) ||
                       (p.max_bytes_per_channel != 0 && bytes > p.max_bytes_per_channel) ||
                       rows->Int(r, 2) < cutoff;
        if (!expired) {
          done = true;
          break;
        }
        if (rows->U(r, 0) != new_low) {
          return Corrupt("a hole in the seqs at " + std::to_string(new_low));
        }
        new_low += 1;
        count -= 1;
        bytes -= std::min(bytes, rows->U(r, 1));
        if (count == 0) done = true;
      }
      if (static_cast<uint64_t>(rows->size()) < chunk) done = true;
      chunk = std::min<uint64_t>(chunk * 2, 4096);
    }
    uint64_t removed = new_low - m.low_seq;
    if (removed == 0) return removed;
    auto deleted =
        Exec("DELETE FROM sds_entries WHERE channel=$1 AND seq<$2", Params().Int(ch.id).U(new_low));
    if (!deleted.ok()) return deleted.status();
    m.low_seq = new_low;
    m.retained_count = count;
    m.retained_bytes = bytes;
    SDS_RETURN_IF_ERROR(SaveChannel(ch));
    return removed;
  }

  // The global byte cap: the entries received first, whatever their channel.
  // Runs only when the cap is exceeded. ApplyRetention locks every channel
  // (waiting for writers). An Append, which already holds its channels' rows,
  // takes only the rows nobody else holds (SKIP LOCKED): waiting there would
  // deadlock two appenders on different channels. A channel being written
  // meanwhile is trimmed by its own writer's transaction, so the cap can be
  // exceeded by the batches in flight, until they commit.
  Result<uint64_t> RetainTotal(bool skip_locked) {
    const uint64_t cap = options_.retention.max_bytes_total;
    if (cap == 0) return uint64_t{0};
    auto total_rows = Exec("SELECT coalesce(sum(retained_bytes), 0)::int8 FROM sds_channels");
    if (!total_rows.ok()) return total_rows.status();
    uint64_t total = total_rows->U(0, 0);
    if (total <= cap) return uint64_t{0};
    auto all = LockAllChannels(skip_locked);
    if (!all.ok()) return all.status();
    std::vector<ChannelRow>& channels = *all;
    if (!skip_locked) {
      total = 0;
      for (const ChannelRow& ch : channels) total += ch.meta.retained_bytes;
    }
    struct Front {
      int64_t received_at;
      uint64_t size;
      size_t index;
      bool operator>(const Front& o) const { return received_at > o.received_at; }
    };
    std::priority_queue<Front, std::vector<Front>, std::greater<Front>> fronts;
    auto push_front = [&](size_t index) -> Status {
      const ChannelRow& ch = channels[index];
      if (ch.meta.retained_count == 0) return Status::Ok();
      auto rows = Exec("SELECT received_at, size FROM sds_entries WHERE channel=$1 AND seq=$2",
                       Params().Int(ch.id).U(ch.meta.low_seq));
      if (!rows.ok()) return rows.status();
      if (rows->size() != 1) {
        return Corrupt("the entry at low_seq " + std::to_string(ch.meta.low_seq) + " is missing");
      }
      fronts.push(Front{rows->Int(0, 0), rows->U(0, 1), index});
      return Status::Ok();
    };
    for (size_t i = 0; i < channels.size(); ++i) SDS_RETURN_IF_ERROR(push_front(i));
    std::set<size_t> changed;
    uint64_t removed = 0;
    while (total > cap && !fronts.empty()) {
      Front f = fronts.top();
      fronts.pop();
      ChannelMeta& m = channels[f.index].meta;
      auto deleted = Exec("DELETE FROM sds_entries WHERE channel=$1 AND seq=$2",
                          Params().Int(channels[f.index].id).U(m.low_seq));
      if (!deleted.ok()) return deleted.status();
      m.low_seq += 1;
      m.retained_count -= 1;
      m.retained_bytes -= std::min(m.retained_bytes, f.size);
      total -= std::min(total, f.size);
      changed.insert(f.index);
      ++removed;
      SDS_RETURN_IF_ERROR(push_front(f.index));
    }
    for (size_t i : changed) SDS_RETURN_IF_ERROR(SaveChannel(channels[i]));
    return removed;
  }

  std::vector<internal::FilteredInput> Filter(std::span<const AppendInput> inputs) const {
    std::vector<internal::FilteredInput> filtered;
    filtered.reserve(inputs.size());
    for (const AppendInput& input : inputs) {
      filtered.push_back(internal::FilterAppendInput(input, options_));
    }
    return filtered;
  }

  PGconn* conn_ = nullptr;
  std::string conninfo_;
  ChannelLogOptions options_;
  PostgresChannelLog::Options postgres_options_;
  Bytes store_id_;
  std::map<const char*, std::string> statements_;
  std::string last_sqlstate_;
  uint64_t retries_ = 0;
  std::mutex mutex_;
};

namespace {

// One Read(): a REPEATABLE READ snapshot; channel metadata is fetched on
// first use and kept for the view. An error inside Find (which cannot return
// one) is kept and returned by Read().
class PostgresView : public ReadView {
 public:
  explicit PostgresView(PostgresChannelLog::Impl& impl) : impl_(impl) {}

  Status deferred() const { return deferred_; }

  const ChannelMeta* Find(const ChannelId& channel_id) override {
    const ChannelRow* ch = Lookup(channel_id);
    return ch == nullptr ? nullptr : &ch->meta;
  }

  Status ReadForward(const ChannelId& channel_id, uint64_t from_seq, const ReadLimits& limits,
                     std::vector<Entry>& out) override {
    const ChannelRow* ch = Lookup(channel_id);
    if (!deferred_.ok()) return deferred_;
    if (ch == nullptr || from_seq > ch->meta.head_seq || ch->meta.retained_count == 0)
      return Status::Ok();
    uint64_t first_seq = std::max(from_seq, ch->meta.low_seq);
    size_t first = out.size();
    SDS_RETURN_IF_ERROR(ReadRows(limits.with_payload
                                     ? "SELECT seq, message_id, lamport, size, payload"
                                       " FROM sds_entries WHERE channel=$1 AND seq>=$2"
                                       " ORDER BY seq LIMIT $3"
                                     : "SELECT seq, message_id, lamport, size"
                                       " FROM sds_entries WHERE channel=$1 AND seq>=$2"
                                       " ORDER BY seq LIMIT $3",
                                 *ch, first_seq, limits, out));
    return CheckDense(out, first, first_seq);
  }

  Status ReadBackward(const ChannelId& channel_id, uint64_t through_seq, const ReadLimits& limits,
                      std::vector<Entry>& out) override {
    const ChannelRow* ch = Lookup(channel_id);
    if (!deferred_.ok()) return deferred_;
    if (ch == nullptr || ch->meta.retained_count == 0 || through_seq < ch->meta.low_seq)
      return Status::Ok();
    size_t first = out.size();
    uint64_t last = std::min(through_seq, ch->meta.head_seq);
    SDS_RETURN_IF_ERROR(ReadRows(limits.with_payload
                                     ? "SELECT seq, message_id, lamport, size, payload"
                                       " FROM sds_entries WHERE channel=$1 AND seq<=$2"
                                       " ORDER BY seq DESC LIMIT $3"
                                     : "SELECT seq, message_id, lamport, size"
                                       " FROM sds_entries WHERE channel=$1 AND seq<=$2"
                                       " ORDER BY seq DESC LIMIT $3",
                                 *ch, last, limits, out));
    std::reverse(out.begin() + static_cast<ptrdiff_t>(first), out.end());
    if (out.size() == first) return Status::Ok();
    if (out.back().seq != last) {
      return impl_.Corrupt("the entry at seq " + std::to_string(last) + " is missing");
    }
    return CheckDense(out, first, out[first].seq);
  }

  Result<std::optional<Entry>> FindById(const ChannelId& channel_id, const MessageId& id,
                                        bool with_payload) override {
    const ChannelRow* ch = Lookup(channel_id);
    if (!deferred_.ok()) return deferred_;
    if (ch == nullptr) return std::optional<Entry>();
    return FindOne(
        "SELECT seq, message_id, lamport, size, payload FROM sds_entries"
        " WHERE channel=$1 AND message_id=$2",
        *ch, Span(id), with_payload);
  }

  Result<std::optional<Entry>> FindByHint(const ChannelId& channel_id, ByteSpan hint,
                                          bool with_payload) override {
    const ChannelRow* ch = Lookup(channel_id);
    if (!deferred_.ok()) return deferred_;
    if (ch == nullptr || hint.empty()) return std::optional<Entry>();
    return FindOne(
        "SELECT seq, message_id, lamport, size, payload FROM sds_entries"
        " WHERE channel=$1 AND hint=$2 ORDER BY seq LIMIT 1",
        *ch, hint, with_payload);
  }

 private:
  const ChannelRow* Lookup(const ChannelId& channel_id) {
    auto it = channels_.find(channel_id);
    if (it != channels_.end()) return it->second ? &*it->second : nullptr;
    if (!deferred_.ok()) return nullptr;
    static const std::string kSelect =
        std::string("SELECT ") + kChannelColumns + " FROM sds_channels WHERE name=$1";
    auto rows = impl_.Exec(kSelect.c_str(), Params().Bytea(channel_id));
    if (!rows.ok()) {
      deferred_ = rows.status();
      return nullptr;
    }
    std::optional<ChannelRow> found;
    if (rows->size() == 1) {
      auto ch = impl_.ParseChannel(*rows, 0);
      if (!ch.ok()) {
        deferred_ = ch.status();
        return nullptr;
      }
      found = std::move(*ch);
    }
    auto& slot = channels_[channel_id];
    slot = std::move(found);
    return slot ? &*slot : nullptr;
  }

  static Entry RowToEntry(const Rows& rows, int r, bool with_payload) {
    Entry e;
    e.seq = rows.U(r, 0);
    e.message_id = rows.Str(r, 1);
    e.lamport = rows.Int(r, 2);
    if (with_payload) e.payload = rows.Blob(r, 4);
    return e;
  }

  Status ReadRows(const char* sql, const ChannelRow& ch, uint64_t seq_bound,
                  const ReadLimits& limits, std::vector<Entry>& out) {
    uint64_t row_limit = std::min<uint64_t>(std::max(limits.max_entries, limits.min_entries),
                                            static_cast<uint64_t>(INT64_MAX));
    auto rows = impl_.Exec(sql, Params().Int(ch.id).U(seq_bound).U(row_limit));
    if (!rows.ok()) return rows.status();
    uint64_t count = 0, bytes = 0;
    for (int r = 0; r < rows->size(); ++r) {
      uint64_t size = rows->U(r, 3);
      if (!internal::TakesNext(limits, count, bytes, size)) break;
      out.push_back(RowToEntry(*rows, r, limits.with_payload));
      ++count;
      bytes += size;
    }
    return Status::Ok();
  }

  // The end-to-end check of I1 on what is served.
  Status CheckDense(const std::vector<Entry>& out, size_t first, uint64_t from_seq) const {
    for (size_t i = first; i < out.size(); ++i) {
      if (out[i].seq != from_seq + (i - first)) {
        return impl_.Corrupt("a hole in the seqs before " + std::to_string(out[i].seq));
      }
    }
    return Status::Ok();
  }

  Result<std::optional<Entry>> FindOne(const char* sql, const ChannelRow& ch, ByteSpan key,
                                       bool with_payload) {
    auto rows = impl_.Exec(sql, Params().Int(ch.id).Bytea(key));
    if (!rows.ok()) return rows.status();
    if (rows->size() == 0) return std::optional<Entry>();
    return std::optional<Entry>(RowToEntry(*rows, 0, with_payload));
  }

  PostgresChannelLog::Impl& impl_;
  std::map<ChannelId, std::optional<ChannelRow>> channels_;
  Status deferred_;
};

}  // namespace

Result<std::unique_ptr<PostgresChannelLog>> PostgresChannelLog::Open(const std::string& conninfo,
                                                                     ChannelLogOptions options,
                                                                     Options postgres_options) {
  SDS_RETURN_IF_ERROR(internal::ValidateOptions(options));
  if (postgres_options.max_retries < 0 || postgres_options.connect_timeout_s < 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "postgres: max_retries and connect_timeout_s must not be negative");
  }
  auto impl = std::make_unique<Impl>();
  SDS_RETURN_IF_ERROR(impl->Open(conninfo, std::move(options), postgres_options));
  auto log = std::unique_ptr<PostgresChannelLog>(new PostgresChannelLog(std::move(impl)));
  log->store_id_ = log->impl_->store_id_;
  return log;
}

PostgresChannelLog::PostgresChannelLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresChannelLog::~PostgresChannelLog() = default;

uint64_t PostgresChannelLog::retries() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->retries_;
}

Result<std::vector<AppendResult>> PostgresChannelLog::Append(std::span<const AppendInput> inputs,
                                                             Timestamp now) {
  const std::vector<internal::FilteredInput> filtered = impl_->Filter(inputs);
  std::set<ChannelId> touched;
  for (const internal::FilteredInput& in : filtered) {
    if (in.result.disposition == AppendDisposition::kAppended) touched.insert(in.result.channel_id);
  }
  std::vector<internal::FilteredInput> work = filtered;
  std::lock_guard lock(impl_->mutex_);
  if (!touched.empty()) {
    Status written = impl_->Write([&]() -> Status {
      work = filtered;  // a retry starts over
      // Locked in name order, so two batches over the same channels queue
      // instead of deadlocking.
      std::map<ChannelId, ChannelRow> channels;
      for (const ChannelId& name : touched) {
        auto ch = impl_->LockChannel(name, /*create=*/true);
        if (!ch.ok()) return ch.status();
        channels.emplace(name, std::move(**ch));
      }
      std::map<ChannelId, std::vector<internal::FilteredInput*>> by_channel;
      for (internal::FilteredInput& in : work) {
        if (in.result.disposition == AppendDisposition::kAppended) {
          by_channel[in.result.channel_id].push_back(&in);
        }
      }
      std::set<ChannelId> dirty;
      for (auto& [name, ins] : by_channel) {
        ChannelRow& ch = channels.at(name);
        uint64_t head = ch.meta.head_seq;
        SDS_RETURN_IF_ERROR(impl_->StoreBatch(ins, now, ch));
        if (ch.meta.head_seq != head) dirty.insert(name);
      }
      for (const ChannelId& name : dirty) {
        ChannelRow& ch = channels.at(name);
        SDS_RETURN_IF_ERROR(impl_->SaveChannel(ch));
        if (impl_->options_.retention_at_append) {
          auto removed = impl_->RetainChannel(ch, now);
          if (!removed.ok()) return removed.status();
        }
        SDS_RETURN_IF_ERROR(impl_->Notify(ch));
      }
      if (impl_->options_.retention_at_append && !dirty.empty()) {
        auto removed = impl_->RetainTotal(/*skip_locked=*/true);
        if (!removed.ok()) return removed.status();
      }
      return Status::Ok();
    });
    if (!written.ok()) return written;
  }
  std::vector<AppendResult> results;
  results.reserve(work.size());
  for (internal::FilteredInput& in : work) results.push_back(std::move(in.result));
  return results;
}

Result<uint64_t> PostgresChannelLog::ApplyRetention(Timestamp now) {
  std::lock_guard lock(impl_->mutex_);
  uint64_t removed = 0;
  Status written = impl_->Write([&]() -> Status {
    removed = 0;
    auto channels = impl_->LockAllChannels();
    if (!channels.ok()) return channels.status();
    for (ChannelRow& ch : *channels) {
      auto n = impl_->RetainChannel(ch, now);
      if (!n.ok()) return n.status();
      removed += *n;
    }
    auto n = impl_->RetainTotal(/*skip_locked=*/false);
    if (!n.ok()) return n.status();
    removed += *n;
    return Status::Ok();
  });
  if (!written.ok()) return written;
  return removed;
}

Status PostgresChannelLog::Read(const std::function<Status(ReadView&)>& body) {
  std::lock_guard lock(impl_->mutex_);
  SDS_RETURN_IF_ERROR(impl_->EnsureConnected());
  SDS_RETURN_IF_ERROR(impl_->Simple("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  PostgresView view(*impl_);
  Status status = body(view);
  if (status.ok()) status = view.deferred();
  if (!status.ok()) {
    if (!impl_->Broken()) PQclear(PQexec(impl_->conn_, "ROLLBACK"));
    return status;
  }
  return impl_->Simple("COMMIT");
}

Result<std::vector<ChannelMeta>> PostgresChannelLog::Channels() {
  std::lock_guard lock(impl_->mutex_);
  SDS_RETURN_IF_ERROR(impl_->EnsureConnected());
  static const std::string kSelect =
      std::string("SELECT ") + kChannelColumns + " FROM sds_channels ORDER BY name";
  auto rows = impl_->Exec(kSelect.c_str());
  if (!rows.ok()) return rows.status();
  std::vector<ChannelMeta> out;
  out.reserve(static_cast<size_t>(rows->size()));
  for (int r = 0; r < rows->size(); ++r) {
    auto ch = impl_->ParseChannel(*rows, r);
    if (!ch.ok()) return ch.status();
    out.push_back(std::move(ch->meta));
  }
  return out;
}

Status PostgresChannelLog::MarkRestored() {
  std::lock_guard lock(impl_->mutex_);
  return impl_->Write([&]() -> Status {
    auto channels = impl_->LockAllChannels();
    if (!channels.ok()) return channels.status();
    for (ChannelRow& ch : *channels) {
      ch.meta.epoch = internal::MintEpoch(impl_->options_.entropy);
      SDS_RETURN_IF_ERROR(impl_->SaveChannel(ch));
      SDS_RETURN_IF_ERROR(impl_->Notify(ch));
    }
    return Status::Ok();
  });
}

Status PostgresChannelLog::Import(const ChannelId& channel_id,
                                  std::span<const AppendInput> messages, Timestamp now) {
  auto filtered = internal::FilterImport(channel_id, messages, impl_->options_);
  if (!filtered.ok()) return filtered.status();
  std::vector<internal::FilteredInput>& accepted = *filtered;
  std::lock_guard lock(impl_->mutex_);
  return impl_->Write([&]() -> Status {
    auto locked = impl_->LockChannel(channel_id, /*create=*/true);
    if (!locked.ok()) return locked.status();
    ChannelRow ch = std::move(**locked);
    auto deleted = impl_->Exec("DELETE FROM sds_entries WHERE channel=$1", Params().Int(ch.id));
    if (!deleted.ok()) return deleted.status();
    // The row (and its lock) is kept; its history starts over.
    ch.meta = ChannelMeta{};
    ch.meta.channel_id = channel_id;
    ch.meta.epoch = internal::MintEpoch(impl_->options_.entropy);
    std::vector<internal::FilteredInput> work = accepted;
    std::vector<internal::FilteredInput*> ins;
    for (internal::FilteredInput& in : work) ins.push_back(&in);
    SDS_RETURN_IF_ERROR(impl_->StoreBatch(ins, now, ch));
    SDS_RETURN_IF_ERROR(impl_->SaveChannel(ch));
    return impl_->Notify(ch);
  });
}

Status PostgresChannelLog::Truncate(const ChannelId& channel_id, uint64_t keep_through_seq) {
  std::lock_guard lock(impl_->mutex_);
  return impl_->Write([&]() -> Status {
    auto locked = impl_->LockChannel(channel_id, /*create=*/false);
    if (!locked.ok()) return locked.status();
    if (!*locked) return Status(ErrorCode::kUnknownChannel, "truncate: no such channel");
    ChannelRow ch = std::move(**locked);
    ChannelMeta& m = ch.meta;
    if (keep_through_seq >= m.head_seq) return Status::Ok();
    auto deleted = impl_->Exec("DELETE FROM sds_entries WHERE channel=$1 AND seq>$2",
                               Params().Int(ch.id).U(keep_through_seq));
    if (!deleted.ok()) return deleted.status();
    auto totals = impl_->Exec(
        "SELECT count(*)::int8, coalesce(sum(size), 0)::int8, coalesce(max(lamport), 0)::int8"
        " FROM sds_entries WHERE channel=$1",
        Params().Int(ch.id));
    if (!totals.ok()) return totals.status();
    m.retained_count = totals->U(0, 0);
    m.retained_bytes = totals->U(0, 1);
    m.max_lamport = totals->Int(0, 2);
    m.head_seq = keep_through_seq;
    if (m.retained_count == 0) m.low_seq = keep_through_seq + 1;
    m.epoch = internal::MintEpoch(impl_->options_.entropy);
    SDS_RETURN_IF_ERROR(impl_->SaveChannel(ch));
    return impl_->Notify(ch);
  });
}

Status PostgresChannelLog::DropChannel(const ChannelId& channel_id) {
  std::lock_guard lock(impl_->mutex_);
  return impl_->Write([&]() -> Status {
    auto locked = impl_->LockChannel(channel_id, /*create=*/false);
    if (!locked.ok()) return locked.status();
    if (!*locked) return Status::Ok();
    int64_t id = (*locked)->id;
    auto entries = impl_->Exec("DELETE FROM sds_entries WHERE channel=$1", Params().Int(id));
    if (!entries.ok()) return entries.status();
    return impl_->Exec("DELETE FROM sds_channels WHERE id=$1", Params().Int(id)).status();
  });
}

std::string PostgresChannelLog::DescribeConninfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "(unparsable connection string)";
  }
  std::string out;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    if (std::strcmp(o->keyword, "password") == 0) continue;
    if (!out.empty()) out += ' ';
    out += o->keyword;
    out += '=';
    out += o->val;
  }
  PQconninfoFree(options);
  return out;
}

// ---- PostgresAppendListener ------------------------------------------------

Result<std::unique_ptr<PostgresAppendListener>> PostgresAppendListener::Open(
    const std::string& conninfo) {
  auto listener = std::unique_ptr<PostgresAppendListener>(new PostgresAppendListener());
  listener->conninfo_ = conninfo;
  SDS_RETURN_IF_ERROR(listener->Connect());
  return listener;
}

PostgresAppendListener::~PostgresAppendListener() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Status PostgresAppendListener::Connect() {
  if (conn_ == nullptr) {
    conn_ = PQconnectdb(conninfo_.c_str());
  } else {
    PQreset(conn_);
  }
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    return Status(ErrorCode::kPersistence,
                  "postgres listener: cannot connect: " + ConnMessage(conn_));
  }
  PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr);
  PGresult* res = PQexec(conn_, (std::string("LISTEN ") + kNotifyChannel).c_str());
  bool ok = res != nullptr && PQresultStatus(res) == PGRES_COMMAND_OK;
  std::string detail = res != nullptr ? PQresultErrorMessage(res) : ConnMessage(conn_);
  PQclear(res);
  if (!ok) return Status(ErrorCode::kPersistence, "postgres listener: LISTEN: " + detail);
  return Status::Ok();
}

int PostgresAppendListener::socket() const {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return -1;
  return PQsocket(conn_);
}

Result<PostgresAppendListener::DrainResult> PostgresAppendListener::Drain(
    const Callback& callback) {
  DrainResult result;
  bool broken = conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK;
  // Reads while the socket has data: a server that went away leaves its
  // goodbye message and then the end of the stream, which only a further
  // read reveals.
  for (int reads = 0; !broken && reads < 16; ++reads) {
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
      broken = true;
      break;
    }
    pollfd p{PQsocket(conn_), POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) break;
  }
  // What arrived before a break was committed: delivered first.
  if (conn_ != nullptr) Deliver(callback, result);
  if (broken) {
    // Reconnect and LISTEN again; what was sent in between is lost, which
    // the caller learns from `resubscribed`.
    SDS_RETURN_IF_ERROR(Connect());
    result.resubscribed = true;
  }
  return result;
}

void PostgresAppendListener::Deliver(const Callback& callback, DrainResult& result) {
  while (PGnotify* n = PQnotifies(conn_)) {
    std::string_view payload = n->extra != nullptr ? n->extra : "";
    size_t space = payload.find(' ');
    std::optional<std::string> channel;
    uint64_t head = 0;
    bool ok = space != std::string_view::npos && space > 0 && space <= 20;
    for (size_t i = 0; ok && i < space; ++i) {
      char c = payload[i];
      if (c < '0' || c > '9' || head > (UINT64_MAX - 9) / 10) ok = false;
      head = head * 10 + static_cast<uint64_t>(c - '0');
    }
    if (ok) channel = Unhex(payload.substr(space + 1));
    PQfreemem(n);
    if (!ok || !channel) {
      ++malformed_;
      continue;
    }
    ++result.notifications;
    callback(*channel, head);
  }
}

Status PostgresAppendListener::Wait(std::chrono::milliseconds timeout) {
  int fd = socket();
  if (fd < 0) return Status(ErrorCode::kPersistence, "postgres listener: disconnected");
  // Already buffered notifications need no wait.
  pollfd p{fd, POLLIN, 0};
  int rc = poll(&p, 1, static_cast<int>(std::clamp<int64_t>(timeout.count(), 0, INT32_MAX)));
  if (rc < 0) return Status(ErrorCode::kPersistence, "postgres listener: poll failed");
  return Status::Ok();
}

}  // namespace sds::catchup
