#include "sds/sqlite_channel_log.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <queue>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "append_filter.h"

namespace sds::catchup {
namespace {

// 'SDSL': PRAGMA application_id of every channel log (SqliteStore uses 'SDS1').
constexpr int32_t kApplicationId = 0x5344534C;  // = 1396986700, set below
constexpr int32_t kParticipantStoreApplicationId = 0x53445331;

// Migration i (1-based) brings schema version i-1 to version i.
const char* const kMigrations[] = {
    // 1: the initial schema. Channels are named once and referred to by id;
    // `payload` is the last column so reads that stop before it (ids-only,
    // retention) never touch its overflow pages.
    R"sql(
CREATE TABLE log_meta(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE channels(
  id INTEGER PRIMARY KEY,
  name BLOB NOT NULL UNIQUE,
  epoch BLOB NOT NULL,
  low_seq INTEGER NOT NULL,
  head_seq INTEGER NOT NULL,
  max_lamport INTEGER NOT NULL,
  retained_count INTEGER NOT NULL,
  retained_bytes INTEGER NOT NULL);
CREATE TABLE entries(
  rowid INTEGER PRIMARY KEY,
  channel INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  message_id BLOB NOT NULL,
  lamport INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  size INTEGER NOT NULL,
  hint BLOB,
  payload BLOB NOT NULL);
CREATE UNIQUE INDEX entries_by_seq ON entries(channel, seq);
CREATE UNIQUE INDEX entries_by_id ON entries(channel, message_id);
CREATE INDEX entries_by_hint ON entries(channel, hint) WHERE hint IS NOT NULL;
)sql",
};
constexpr int kLatestSchema = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));
static_assert(kLatestSchema == SqliteChannelLog::kSchemaVersion);

constexpr const char* kStateLive = "live";
constexpr const char* kStateBackup = "backup";

ByteSpan Span(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// A prepared statement, reset after every use.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  ~Statement() {
    if (stmt_ == nullptr) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Statement& Bind(int i, ByteSpan bytes) {
    // A zero-length blob, never NULL: NOT NULL columns accept it.
    static const uint8_t kEmpty = 0;
    sqlite3_bind_blob(stmt_, i, bytes.data() == nullptr ? &kEmpty : bytes.data(),
                      static_cast<int>(bytes.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& Bind(int i, const std::string& s) { return Bind(i, Span(s)); }
  Statement& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& BindU(int i, uint64_t v) { return Bind(i, static_cast<int64_t>(v)); }
  Statement& BindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  uint64_t U(int col) { return static_cast<uint64_t>(sqlite3_column_int64(stmt_, col)); }
  bool IsNull(int col) { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  ByteSpan View(int col) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? ByteSpan() : ByteSpan(p, static_cast<size_t>(n));
  }
  Bytes Blob(int col) {
    ByteSpan v = View(col);
    return Bytes(v.begin(), v.end());
  }
  std::string Str(int col) {
    ByteSpan v = View(col);
    return std::string(v.begin(), v.end());
  }

 private:
  sqlite3_stmt* stmt_;
};

struct CachedChannel {
  int64_t id = 0;
  ChannelMeta meta;
};

}  // namespace

class SqliteChannelLog::Impl : public ReadView {
 public:
  ~Impl() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    if (db_ != nullptr) sqlite3_close(db_);
  }

  // ---- plumbing ----
  Status Error(int rc, const std::string& what) const {
    switch (rc & 0xff) {
      case SQLITE_NOTADB:
        return Status(ErrorCode::kPersistence,
                      "sqlite " + path_ + ": not a database file (" + what + ")");
      case SQLITE_CORRUPT:
        return Status(ErrorCode::kPersistence,
                      "sqlite " + path_ + ": database file is corrupt (" + what + ")");
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return Status(
            ErrorCode::kPersistence,
            "sqlite " + path_ + ": database is locked by another connection (" + what + ")");
      default:
        return Status(ErrorCode::kPersistence, "sqlite " + path_ + ": " + what + ": " +
                                                   (db_ != nullptr ? sqlite3_errmsg(db_) : "") +
                                                   " (" + sqlite3_errstr(rc) + ")");
    }
  }
  Status Corrupt(const std::string& what) const {
    return Status(ErrorCode::kPersistence, "sqlite " + path_ + ": corrupt channel log: " + what);
  }

  Status Exec(const char* sql, const char* what) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return Error(rc, what);
    return Status::Ok();
  }

  Result<Statement> Prepare(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return Error(rc, std::string("preparing ") + sql);
      it = statements_.emplace(sql, stmt).first;
    }
    return Statement(it->second);
  }

  template <typename BindFn>
  Status Run(const char* sql, BindFn&& bind) {
    auto stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    bind(*stmt);
    int rc = stmt->Step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(rc, sql);
    return Status::Ok();
  }

  // Iterates the rows of `sql`; `row` returns false to stop early.
  template <typename BindFn, typename RowFn>
  Status Query(const char* sql, BindFn&& bind, RowFn&& row) {
    auto stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    bind(*stmt);
    while (true) {
      int rc = stmt->Step();
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return Error(rc, sql);
      Result<bool> more = row(*stmt);
      if (!more.ok()) return more.status();
      if (!*more) return Status::Ok();
    }
  }

  // Runs `body` in a write transaction. On failure everything is rolled back
  // and the metadata cache reloaded, so memory never runs ahead of the file.
  template <typename Body>
  Status Write(Body&& body) {
    SDS_RETURN_IF_ERROR(EndRead());
    SDS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "beginning a write"));
    Status status = body();
    if (status.ok()) {
      int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
      if (rc == SQLITE_OK) return Status::Ok();
      status = Error(rc, "committing");
    }
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    Status reload = LoadChannels();
    if (!reload.ok()) {
      return Status(status.code(), status.message() + "; then reloading: " + reload.message());
    }
    return status;
  }

  // Reads of one view share one read transaction, opened at the first read
  // that needs the tables (a view answered from the cache opens none).
  Status BeginRead() {
    if (in_read_) return Status::Ok();
    SDS_RETURN_IF_ERROR(Exec("BEGIN", "beginning a read"));
    in_read_ = true;
    return Status::Ok();
  }
  Status EndRead() {
    if (!in_read_) return Status::Ok();
    in_read_ = false;
    return Exec("COMMIT", "ending a read");
  }

  // ---- opening ----
  Status Open(const std::string& path, ChannelLogOptions options, const Options& sqlite_options) {
    path_ = path;
    options_ = std::move(options);
    int rc =
        sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return Error(rc, "opening");
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, sqlite_options.busy_timeout_ms);
    // Reading the header first tells "not a database" and "corrupt" apart.
    SDS_RETURN_IF_ERROR(Exec("SELECT count(*) FROM sqlite_schema", "reading the schema"));
    SDS_RETURN_IF_ERROR(Exec("PRAGMA locking_mode=EXCLUSIVE", "setting exclusive locking"));
    {
      auto stmt = Prepare("PRAGMA journal_mode=WAL");
      if (!stmt.ok()) return stmt.status();
      rc = stmt->Step();
      if (rc != SQLITE_ROW) return Error(rc, "enabling WAL");
    }
    SDS_RETURN_IF_ERROR(
        Exec(sqlite_options.sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
             "setting synchronous"));
    // Takes the exclusive lock now: a second process fails here, clearly.
    SDS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "locking the database"));
    Status status = Migrate();
    if (status.ok()) status = LoadChannels();
    if (status.ok()) status = OpenMarkers();
    if (!status.ok()) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return status;
    }
    status = Exec("COMMIT", "committing the schema");
    if (!status.ok()) return status;
    if (restored_at_open_) return LoadChannels();
    return Status::Ok();
  }

  Status Migrate() {
    int64_t app_id = 0, tables = 0;
    {
      auto stmt = Prepare("PRAGMA application_id");
      if (!stmt.ok()) return stmt.status();
      if (stmt->Step() == SQLITE_ROW) app_id = stmt->Int(0);
    }
    {
      auto stmt = Prepare("SELECT count(*) FROM sqlite_schema WHERE type='table'");
      if (!stmt.ok()) return stmt.status();
      if (stmt->Step() == SQLITE_ROW) tables = stmt->Int(0);
    }
    if (tables == 0 && app_id == 0) {
      SDS_RETURN_IF_ERROR(Exec("PRAGMA application_id=1396986700", "setting application_id"));
      SDS_RETURN_IF_ERROR(
          Exec("CREATE TABLE sds_log_schema(version INTEGER NOT NULL);"
               "INSERT INTO sds_log_schema VALUES(0)",
               "creating sds_log_schema"));
    } else if (app_id != kApplicationId) {
      std::string what =
          app_id == kParticipantStoreApplicationId
              ? "a participant's SqliteStore, not a channel log"
              : "not an sds channel log (application_id " + std::to_string(app_id) + ")";
      return Status(ErrorCode::kPersistence, "sqlite " + path_ + ": " + what);
    }
    int64_t version = 0;
    {
      auto stmt = Prepare("SELECT version FROM sds_log_schema");
      if (!stmt.ok()) return stmt.status();
      int rc = stmt->Step();
      if (rc != SQLITE_ROW) return Error(rc, "reading the schema version");
      version = stmt->Int(0);
    }
    if (version > kLatestSchema) {
      return Status(ErrorCode::kPersistence,
                    "sqlite " + path_ + ": written by a newer sds (channel log schema version " +
                        std::to_string(version) + "; this build knows up to " +
                        std::to_string(kLatestSchema) + ")");
    }
    if (version < 0) return Corrupt("schema version " + std::to_string(version));
    for (int64_t v = version; v < kLatestSchema; ++v) {
      SDS_RETURN_IF_ERROR(Exec(kMigrations[v], "migrating the schema"));
    }
    if (version != kLatestSchema) {
      SDS_RETURN_IF_ERROR(Run("UPDATE sds_log_schema SET version=?1",
                              [](Statement& s) { s.Bind(1, int64_t{kLatestSchema}); }));
    }
    return Status::Ok();
  }

  Result<std::optional<Bytes>> GetMeta(const std::string& key) {
    std::optional<Bytes> value;
    SDS_RETURN_IF_ERROR(Query(
        "SELECT value FROM log_meta WHERE key=?1", [&](Statement& s) { s.Bind(1, key); },
        [&](Statement& s) -> Result<bool> {
          value = s.Blob(0);
          return false;
        }));
    return value;
  }
  Status SetMeta(const std::string& key, ByteSpan value) {
    return Run("INSERT OR REPLACE INTO log_meta(key, value) VALUES(?1,?2)",
               [&](Statement& s) { s.Bind(1, key).Bind(2, value); });
  }

  // store_id and the instance marker (inside the opening transaction).
  Status OpenMarkers() {
    auto stored_id = GetMeta("store_id");
    if (!stored_id.ok()) return stored_id.status();
    if (!options_.store_id.empty()) {
      store_id_ = options_.store_id;
      if (!*stored_id || **stored_id != store_id_)
        SDS_RETURN_IF_ERROR(SetMeta("store_id", store_id_));
    } else if (*stored_id && !(*stored_id)->empty()) {
      store_id_ = **stored_id;
    } else {
      store_id_ = internal::MintStoreId(options_.entropy);
      SDS_RETURN_IF_ERROR(SetMeta("store_id", store_id_));
    }
    auto state = GetMeta("state");
    if (!state.ok()) return state.status();
    if (*state && ToString(**state) == kStateBackup) {
      SDS_RETURN_IF_ERROR(RemintAll());
      restored_at_open_ = true;
    } else if (*state && ToString(**state) != kStateLive) {
      return Corrupt("unknown instance state '" + ToString(**state) + "'");
    }
    if (!*state || restored_at_open_) SDS_RETURN_IF_ERROR(SetMeta("state", ToBytes(kStateLive)));
    return Status::Ok();
  }

  Status LoadChannels() {
    channels_.clear();
    total_bytes_ = 0;
    return Query(
        "SELECT id, name, epoch, low_seq, head_seq, max_lamport, retained_count, retained_bytes"
        " FROM channels",
        [](Statement&) {},
        [&](Statement& s) -> Result<bool> {
          CachedChannel ch;
          ch.id = s.Int(0);
          ch.meta.channel_id = s.Str(1);
          ByteSpan epoch = s.View(2);
          if (epoch.size() != ch.meta.epoch.size()) return Corrupt("an epoch is not 16 bytes");
          std::copy(epoch.begin(), epoch.end(), ch.meta.epoch.begin());
          ch.meta.low_seq = s.U(3);
          ch.meta.head_seq = s.U(4);
          ch.meta.max_lamport = s.Int(5);
          ch.meta.retained_count = s.U(6);
          ch.meta.retained_bytes = s.U(7);
          if (ch.meta.low_seq == 0 || ch.meta.low_seq > ch.meta.head_seq + 1 ||
              ch.meta.retained_count != ch.meta.head_seq + 1 - ch.meta.low_seq) {
            return Corrupt("channel seqs out of order (low " + std::to_string(ch.meta.low_seq) +
                           ", head " + std::to_string(ch.meta.head_seq) + ", count " +
                           std::to_string(ch.meta.retained_count) + ")");
          }
          total_bytes_ += ch.meta.retained_bytes;
          std::string name = ch.meta.channel_id;
          channels_.emplace(std::move(name), std::move(ch));
          return true;
        });
  }

  // ---- metadata writes (inside Write) ----
  Status SaveChannel(const CachedChannel& ch) {
    return Run(
        "UPDATE channels SET epoch=?2, low_seq=?3, head_seq=?4, max_lamport=?5,"
        " retained_count=?6, retained_bytes=?7 WHERE id=?1",
        [&](Statement& s) {
          s.Bind(1, ch.id).Bind(2, ByteSpan(ch.meta.epoch)).BindU(3, ch.meta.low_seq);
          s.BindU(4, ch.meta.head_seq).Bind(5, ch.meta.max_lamport);
          s.BindU(6, ch.meta.retained_count).BindU(7, ch.meta.retained_bytes);
        });
  }

  Result<CachedChannel*> CreateChannel(const ChannelId& channel_id) {
    CachedChannel ch;
    ch.meta.channel_id = channel_id;
    ch.meta.epoch = internal::MintEpoch(options_.entropy);
    SDS_RETURN_IF_ERROR(
        Run("INSERT INTO channels(name, epoch, low_seq, head_seq, max_lamport, retained_count,"
            " retained_bytes) VALUES(?1,?2,1,0,0,0,0)",
            [&](Statement& s) { s.Bind(1, channel_id).Bind(2, ByteSpan(ch.meta.epoch)); }));
    ch.id = sqlite3_last_insert_rowid(db_);
    return &channels_.insert_or_assign(channel_id, std::move(ch)).first->second;
  }

  Status RemintAll() {
    for (auto& [name, ch] : channels_) {
      ch.meta.epoch = internal::MintEpoch(options_.entropy);
      SDS_RETURN_IF_ERROR(SaveChannel(ch));
    }
    return Status::Ok();
  }

  // Stores one filtered input, setting its disposition and seq; the channel
  // row is saved by the caller (it is in `dirty`).
  Status Store(internal::FilteredInput& in, Timestamp now, std::set<CachedChannel*>& dirty) {
    AppendResult& r = in.result;
    auto it = channels_.find(r.channel_id);
    CachedChannel* ch = nullptr;
    if (it != channels_.end()) {
      ch = &it->second;
    } else {
      auto created = CreateChannel(r.channel_id);
      if (!created.ok()) return created.status();
      ch = *created;
    }
    uint64_t seq = ch->meta.head_seq + 1;
    auto insert = Prepare(
        "INSERT INTO entries(channel, seq, message_id, lamport, received_at, size, hint, payload)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(channel, message_id) DO NOTHING");
    if (!insert.ok()) return insert.status();
    insert->Bind(1, ch->id).BindU(2, seq).Bind(3, r.message_id).Bind(4, in.lamport);
    insert->Bind(5, UnixMillis(now)).BindU(6, in.payload.size());
    if (in.hint.empty()) {
      insert->BindNull(7);
    } else {
      insert->Bind(7, in.hint);
    }
    insert->Bind(8, in.payload);
    int rc = insert->Step();
    if (rc != SQLITE_DONE) return Error(rc, "appending an entry");
    if (sqlite3_changes(db_) == 0) {
      // Already there: report its seq, and record a hint it lacked.
      r.disposition = AppendDisposition::kDuplicate;
      bool found = false, has_hint = false;
      SDS_RETURN_IF_ERROR(Query(
          "SELECT seq, hint IS NOT NULL FROM entries WHERE channel=?1 AND message_id=?2",
          [&](Statement& s) { s.Bind(1, ch->id).Bind(2, r.message_id); },
          [&](Statement& s) -> Result<bool> {
            found = true;
            r.seq = s.U(0);
            has_hint = s.Int(1) != 0;
            return false;
          }));
      if (!found) return Corrupt("an entry conflicted and then could not be found");
      if (!has_hint && !in.hint.empty()) {
        SDS_RETURN_IF_ERROR(
            Run("UPDATE entries SET hint=?3 WHERE channel=?1 AND seq=?2",
                [&](Statement& s) { s.Bind(1, ch->id).BindU(2, r.seq).Bind(3, in.hint); }));
      }
      return Status::Ok();
    }
    ChannelMeta& m = ch->meta;
    m.head_seq = seq;
    m.max_lamport = std::max(m.max_lamport, in.lamport);
    m.retained_count += 1;
    m.retained_bytes += in.payload.size();
    total_bytes_ += in.payload.size();
    r.disposition = AppendDisposition::kAppended;
    r.seq = seq;
    dirty.insert(ch);
    return Status::Ok();
  }

  // ---- retention (inside Write) ----
  // Removes the expired prefix of one channel; returns how many entries.
  Result<uint64_t> RetainChannel(CachedChannel& ch, Timestamp now) {
    const RetentionPolicy& p = options_.retention;
    ChannelMeta& m = ch.meta;
    if (m.retained_count == 0) return uint64_t{0};
    const int64_t cutoff = p.max_age.count() > 0 ? UnixMillis(now - p.max_age) : INT64_MIN;
    uint64_t new_low = m.low_seq, count = m.retained_count, bytes = m.retained_bytes;
    SDS_RETURN_IF_ERROR(Query(
        "SELECT seq, size, received_at FROM entries WHERE channel=?1 AND seq>=?2 ORDER BY seq",
        [&](Statement& s) { s.Bind(1, ch.id).BindU(2, m.low_seq); },
        [&](Statement& s) -> Result<bool> {
          bool expired = (p.max_entries_per_channel != 0 && count > p.max_entries_per_channel) ||
                         (p.max_bytes_per_channel != 0 && bytes > p.max_bytes_per_channel) ||
                         s.Int(2) < cutoff;
          if (!expired) return false;
          if (s.U(0) != new_low) return Corrupt("a hole in the seqs at " + std::to_string(new_low));
          new_low += 1;
          count -= 1;
          bytes -= std::min(bytes, s.U(1));
          return count > 0;
        }));
    uint64_t removed = new_low - m.low_seq;
    if (removed == 0) return removed;
    SDS_RETURN_IF_ERROR(Run("DELETE FROM entries WHERE channel=?1 AND seq<?2",
                            [&](Statement& s) { s.Bind(1, ch.id).BindU(2, new_low); }));
    total_bytes_ -= m.retained_bytes - bytes;
    m.low_seq = new_low;
    m.retained_count = count;
    m.retained_bytes = bytes;
    SDS_RETURN_IF_ERROR(SaveChannel(ch));
    return removed;
  }

  // The global byte cap: the entries received first, whatever their channel.
  Result<uint64_t> RetainTotal() {
    const uint64_t cap = options_.retention.max_bytes_total;
    if (cap == 0 || total_bytes_ <= cap) return uint64_t{0};
    struct Front {
      int64_t received_at;
      uint64_t size;
      CachedChannel* ch;
      bool operator>(const Front& o) const { return received_at > o.received_at; }
    };
    std::priority_queue<Front, std::vector<Front>, std::greater<Front>> fronts;
    auto push_front = [&](CachedChannel& ch) -> Status {
      if (ch.meta.retained_count == 0) return Status::Ok();
      return Query(
          "SELECT received_at, size FROM entries WHERE channel=?1 AND seq=?2",
          [&](Statement& s) { s.Bind(1, ch.id).BindU(2, ch.meta.low_seq); },
          [&](Statement& s) -> Result<bool> {
            fronts.push(Front{s.Int(0), s.U(1), &ch});
            return false;
          });
    };
    for (auto& [name, ch] : channels_) SDS_RETURN_IF_ERROR(push_front(ch));
    std::set<CachedChannel*> changed;
    uint64_t removed = 0;
    while (total_bytes_ > cap && !fronts.empty()) {
      Front f = fronts.top();
      fronts.pop();
      ChannelMeta& m = f.ch->meta;
      SDS_RETURN_IF_ERROR(Run("DELETE FROM entries WHERE channel=?1 AND seq=?2",
                              [&](Statement& s) { s.Bind(1, f.ch->id).BindU(2, m.low_seq); }));
      m.low_seq += 1;
      m.retained_count -= 1;
      m.retained_bytes -= std::min(m.retained_bytes, f.size);
      total_bytes_ -= std::min(total_bytes_, f.size);
      changed.insert(f.ch);
      ++removed;
      SDS_RETURN_IF_ERROR(push_front(*f.ch));
    }
    for (CachedChannel* ch : changed) SDS_RETURN_IF_ERROR(SaveChannel(*ch));
    return removed;
  }

  // ---- ReadView ----
  const ChannelMeta* Find(const ChannelId& channel_id) override {
    auto it = channels_.find(channel_id);
    return it == channels_.end() ? nullptr : &it->second.meta;
  }

  const CachedChannel* Cached(const ChannelId& channel_id) const {
    auto it = channels_.find(channel_id);
    return it == channels_.end() ? nullptr : &it->second;
  }

  Entry RowToEntry(Statement& s, bool with_payload) {
    Entry e;
    e.seq = s.U(0);
    e.message_id = s.Str(1);
    e.lamport = s.Int(2);
    if (with_payload) e.payload = s.Blob(4);
    return e;
  }

  // Rows of (seq, message_id, lamport, size[, payload]) read within limits.
  Status ReadRows(const char* sql, const CachedChannel& ch, uint64_t seq_bound,
                  const ReadLimits& limits, std::vector<Entry>& out) {
    SDS_RETURN_IF_ERROR(BeginRead());
    uint64_t count = 0, bytes = 0;
    uint64_t row_limit = std::max(limits.max_entries, limits.min_entries);
    return Query(
        sql,
        [&](Statement& s) {
          s.Bind(1, ch.id).BindU(2, seq_bound).BindU(3, std::min<uint64_t>(row_limit, INT64_MAX));
        },
        [&](Statement& s) -> Result<bool> {
          uint64_t size = s.U(3);
          if (!internal::TakesNext(limits, count, bytes, size)) return false;
          out.push_back(RowToEntry(s, limits.with_payload));
          ++count;
          bytes += size;
          return true;
        });
  }

  Status ReadForward(const ChannelId& channel_id, uint64_t from_seq, const ReadLimits& limits,
                     std::vector<Entry>& out) override {
    const CachedChannel* ch = Cached(channel_id);
    if (ch == nullptr || from_seq > ch->meta.head_seq || ch->meta.retained_count == 0)
      return Status::Ok();
    size_t first = out.size();
    SDS_RETURN_IF_ERROR(ReadRows(limits.with_payload
                                     ? "SELECT seq, message_id, lamport, size, payload FROM entries"
                                       " WHERE channel=?1 AND seq>=?2 ORDER BY seq LIMIT ?3"
                                     : "SELECT seq, message_id, lamport, size FROM entries"
                                       " WHERE channel=?1 AND seq>=?2 ORDER BY seq LIMIT ?3",
                                 *ch, std::max(from_seq, ch->meta.low_seq), limits, out));
    return CheckDense(out, first, std::max(from_seq, ch->meta.low_seq));
  }

  Status ReadBackward(const ChannelId& channel_id, uint64_t through_seq, const ReadLimits& limits,
                      std::vector<Entry>& out) override {
    const CachedChannel* ch = Cached(channel_id);
    if (ch == nullptr || ch->meta.retained_count == 0 || through_seq < ch->meta.low_seq)
      return Status::Ok();
    size_t first = out.size();
    uint64_t last = std::min(through_seq, ch->meta.head_seq);
    SDS_RETURN_IF_ERROR(ReadRows(limits.with_payload
                                     ? "SELECT seq, message_id, lamport, size, payload FROM entries"
                                       " WHERE channel=?1 AND seq<=?2 ORDER BY seq DESC LIMIT ?3"
                                     : "SELECT seq, message_id, lamport, size FROM entries"
                                       " WHERE channel=?1 AND seq<=?2 ORDER BY seq DESC LIMIT ?3",
                                 *ch, last, limits, out));
    std::reverse(out.begin() + static_cast<ptrdiff_t>(first), out.end());
    if (out.size() == first) return Status::Ok();
    if (out.back().seq != last)
      return Corrupt("the entry at seq " + std::to_string(last) + " is missing");
    return CheckDense(out, first, out[first].seq);
  }

  // The end-to-end check of I1 on what is served: a hole is a corrupt file,
  // never a silently short page.
  Status CheckDense(const std::vector<Entry>& out, size_t first, uint64_t from_seq) const {
    for (size_t i = first; i < out.size(); ++i) {
      if (out[i].seq != from_seq + (i - first)) {
        return Corrupt("a hole in the seqs before " + std::to_string(out[i].seq));
      }
    }
    return Status::Ok();
  }

  Result<std::optional<Entry>> FindOne(const char* sql, const CachedChannel& ch, ByteSpan key,
                                       bool with_payload) {
    SDS_RETURN_IF_ERROR(BeginRead());
    std::optional<Entry> found;
    SDS_RETURN_IF_ERROR(Query(
        sql, [&](Statement& s) { s.Bind(1, ch.id).Bind(2, key); },
        [&](Statement& s) -> Result<bool> {
          found = RowToEntry(s, with_payload);
          return false;
        }));
    return found;
  }

  Result<std::optional<Entry>> FindById(const ChannelId& channel_id, const MessageId& id,
                                        bool with_payload) override {
    const CachedChannel* ch = Cached(channel_id);
    if (ch == nullptr) return std::optional<Entry>();
    return FindOne(
        "SELECT seq, message_id, lamport, size, payload FROM entries"
        " WHERE channel=?1 AND message_id=?2",
        *ch, Span(id), with_payload);
  }

  Result<std::optional<Entry>> FindByHint(const ChannelId& channel_id, ByteSpan hint,
                                          bool with_payload) override {
    const CachedChannel* ch = Cached(channel_id);
    if (ch == nullptr || hint.empty()) return std::optional<Entry>();
    return FindOne(
        "SELECT seq, message_id, lamport, size, payload FROM entries"
        " WHERE channel=?1 AND hint=?2 ORDER BY seq LIMIT 1",
        *ch, hint, with_payload);
  }

  sqlite3* db_ = nullptr;
  std::string path_;
  ChannelLogOptions options_;
  Bytes store_id_;
  std::map<const char*, sqlite3_stmt*> statements_;
  std::map<ChannelId, CachedChannel> channels_;
  uint64_t total_bytes_ = 0;
  bool in_read_ = false;
  bool restored_at_open_ = false;
  std::mutex mutex_;
};

Result<std::unique_ptr<SqliteChannelLog>> SqliteChannelLog::Open(const std::string& path,
                                                                 ChannelLogOptions options,
                                                                 Options sqlite_options) {
  SDS_RETURN_IF_ERROR(internal::ValidateOptions(options));
  auto impl = std::make_unique<Impl>();
  SDS_RETURN_IF_ERROR(impl->Open(path, std::move(options), sqlite_options));
  auto log = std::unique_ptr<SqliteChannelLog>(new SqliteChannelLog(std::move(impl)));
  log->store_id_ = log->impl_->store_id_;
  return log;
}

SqliteChannelLog::SqliteChannelLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteChannelLog::~SqliteChannelLog() = default;

bool SqliteChannelLog::restored_at_open() const { return impl_->restored_at_open_; }

Result<std::vector<AppendResult>> SqliteChannelLog::Append(std::span<const AppendInput> inputs,
                                                           Timestamp now) {
  std::vector<internal::FilteredInput> filtered;
  filtered.reserve(inputs.size());
  bool any = false;
  for (const AppendInput& input : inputs) {
    filtered.push_back(internal::FilterAppendInput(input, impl_->options_));
    any = any || filtered.back().result.disposition == AppendDisposition::kAppended;
  }
  std::lock_guard lock(impl_->mutex_);
  if (any) {
    Status written = impl_->Write([&]() -> Status {
      std::set<CachedChannel*> dirty;
      for (internal::FilteredInput& in : filtered) {
        if (in.result.disposition == AppendDisposition::kAppended) {
          SDS_RETURN_IF_ERROR(impl_->Store(in, now, dirty));
        }
      }
      for (CachedChannel* ch : dirty) {
        SDS_RETURN_IF_ERROR(impl_->SaveChannel(*ch));
        if (impl_->options_.retention_at_append) {
          auto removed = impl_->RetainChannel(*ch, now);
          if (!removed.ok()) return removed.status();
        }
      }
      if (impl_->options_.retention_at_append && !dirty.empty()) {
        auto removed = impl_->RetainTotal();
        if (!removed.ok()) return removed.status();
      }
      return Status::Ok();
    });
    if (!written.ok()) return written;
  }
  std::vector<AppendResult> results;
  results.reserve(filtered.size());
  for (internal::FilteredInput& in : filtered) results.push_back(std::move(in.result));
  return results;
}

Result<uint64_t> SqliteChannelLog::ApplyRetention(Timestamp now) {
  std::lock_guard lock(impl_->mutex_);
  uint64_t removed = 0;
  Status written = impl_->Write([&]() -> Status {
    for (auto& [name, ch] : impl_->channels_) {
      auto n = impl_->RetainChannel(ch, now);
      if (!n.ok()) return n.status();
      removed += *n;
    }
    auto n = impl_->RetainTotal();
    if (!n.ok()) return n.status();
    removed += *n;
    return Status::Ok();
  });
  if (!written.ok()) return written;
  return removed;
}

Status SqliteChannelLog::Read(const std::function<Status(ReadView&)>& body) {
  std::lock_guard lock(impl_->mutex_);
  Status status = body(*impl_);
  Status end = impl_->EndRead();
  return status.ok() ? end : status;
}

Result<std::vector<ChannelMeta>> SqliteChannelLog::Channels() {
  std::lock_guard lock(impl_->mutex_);
  std::vector<ChannelMeta> out;
  out.reserve(impl_->channels_.size());
  for (const auto& [name, ch] : impl_->channels_) out.push_back(ch.meta);
  return out;
}

Status SqliteChannelLog::MarkRestored() {
  std::lock_guard lock(impl_->mutex_);
  return impl_->Write([&] { return impl_->RemintAll(); });
}

Status SqliteChannelLog::Import(const ChannelId& channel_id, std::span<const AppendInput> messages,
                                Timestamp now) {
  auto filtered = internal::FilterImport(channel_id, messages, impl_->options_);
  if (!filtered.ok()) return filtered.status();
  std::vector<internal::FilteredInput>& accepted = *filtered;
  std::lock_guard lock(impl_->mutex_);
  return impl_->Write([&]() -> Status {
    auto it = impl_->channels_.find(channel_id);
    if (it != impl_->channels_.end()) {
      SDS_RETURN_IF_ERROR(impl_->Run("DELETE FROM entries WHERE channel=?1",
                                     [&](Statement& s) { s.Bind(1, it->second.id); }));
      SDS_RETURN_IF_ERROR(impl_->Run("DELETE FROM channels WHERE id=?1",
                                     [&](Statement& s) { s.Bind(1, it->second.id); }));
      impl_->total_bytes_ -= it->second.meta.retained_bytes;
      impl_->channels_.erase(it);
    }
    auto created = impl_->CreateChannel(channel_id);
    if (!created.ok()) return created.status();
    std::set<CachedChannel*> dirty;
    for (internal::FilteredInput& in : accepted) SDS_RETURN_IF_ERROR(impl_->Store(in, now, dirty));
    return impl_->SaveChannel(**created);
  });
}

Status SqliteChannelLog::Truncate(const ChannelId& channel_id, uint64_t keep_through_seq) {
  std::lock_guard lock(impl_->mutex_);
  auto it = impl_->channels_.find(channel_id);
  if (it == impl_->channels_.end()) {
    return Status(ErrorCode::kUnknownChannel, "truncate: no such channel");
  }
  CachedChannel& ch = it->second;
  if (keep_through_seq >= ch.meta.head_seq) return Status::Ok();
  return impl_->Write([&]() -> Status {
    SDS_RETURN_IF_ERROR(
        impl_->Run("DELETE FROM entries WHERE channel=?1 AND seq>?2",
                   [&](Statement& s) { s.Bind(1, ch.id).BindU(2, keep_through_seq); }));
    ChannelMeta& m = ch.meta;
    SDS_RETURN_IF_ERROR(impl_->Query(
        "SELECT count(*), coalesce(sum(size), 0), coalesce(max(lamport), 0) FROM entries"
        " WHERE channel=?1",
        [&](Statement& s) { s.Bind(1, ch.id); },
        [&](Statement& s) -> Result<bool> {
          impl_->total_bytes_ -= m.retained_bytes - s.U(1);
          m.retained_count = s.U(0);
          m.retained_bytes = s.U(1);
          m.max_lamport = s.Int(2);
          return false;
        }));
    m.head_seq = keep_through_seq;
    if (m.retained_count == 0) m.low_seq = keep_through_seq + 1;
    m.epoch = internal::MintEpoch(impl_->options_.entropy);
    return impl_->SaveChannel(ch);
  });
}

Status SqliteChannelLog::DropChannel(const ChannelId& channel_id) {
  std::lock_guard lock(impl_->mutex_);
  auto it = impl_->channels_.find(channel_id);
  if (it == impl_->channels_.end()) return Status::Ok();
  int64_t id = it->second.id;
  return impl_->Write([&]() -> Status {
    SDS_RETURN_IF_ERROR(
        impl_->Run("DELETE FROM entries WHERE channel=?1", [&](Statement& s) { s.Bind(1, id); }));
    SDS_RETURN_IF_ERROR(
        impl_->Run("DELETE FROM channels WHERE id=?1", [&](Statement& s) { s.Bind(1, id); }));
    impl_->total_bytes_ -= it->second.meta.retained_bytes;
    impl_->channels_.erase(it);
    return Status::Ok();
  });
}

Status SqliteChannelLog::Backup(const std::string& dest_path) {
  std::lock_guard lock(impl_->mutex_);
  SDS_RETURN_IF_ERROR(impl_->EndRead());
  sqlite3* dest = nullptr;
  auto fail = [&](int rc, const std::string& what) {
    std::string message = "backup to " + dest_path + ": " + what + ": " +
                          (dest != nullptr ? sqlite3_errmsg(dest) : sqlite3_errstr(rc));
    if (dest != nullptr) sqlite3_close(dest);
    return Status(ErrorCode::kPersistence, message);
  };
  int rc = sqlite3_open_v2(dest_path.c_str(), &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                           nullptr);
  if (rc != SQLITE_OK) return fail(rc, "opening");
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", impl_->db_, "main");
  if (backup == nullptr) return fail(sqlite3_errcode(dest), "starting");
  rc = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return fail(rc, "copying");
  rc = sqlite3_exec(dest,
                    "INSERT OR REPLACE INTO log_meta(key, value)"
                    " VALUES(CAST('state' AS BLOB), CAST('backup' AS BLOB))",
                    nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc, "marking the copy as a backup");
  sqlite3_close(dest);
  return Status::Ok();
}

Result<std::string> SqliteChannelLog::IntegrityCheck() {
  std::lock_guard lock(impl_->mutex_);
  std::string out;
  SDS_RETURN_IF_ERROR(impl_->Query(
      "PRAGMA integrity_check", [](Statement&) {},
      [&](Statement& s) -> Result<bool> {
        if (!out.empty()) out += "\n";
        out += s.Str(0);
        return true;
      }));
  return out;
}

}  // namespace sds::catchup
