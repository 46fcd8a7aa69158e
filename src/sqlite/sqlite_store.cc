#include "sds/sqlite_store.h"

#include <sqlite3.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sds/codec.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sds {
namespace {

// 'SDS1': PRAGMA application_id of every database this store creates.
constexpr int32_t kApplicationId = 0x53445331;

// Migration i (1-based) brings schema version i-1 to version i.
const char* const kMigrations[] = {
    // 1: the initial schema. Message bodies live once in `bodies`; everything
    // else refers to them by (channel, message_id).
    R"sql(
CREATE TABLE channels(
  channel BLOB PRIMARY KEY,
  lamport INTEGER NOT NULL,
  sync_due INTEGER,
  sync_count INTEGER NOT NULL DEFAULT 0,
  delivered_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE bodies(
  rowid INTEGER PRIMARY KEY,
  channel BLOB NOT NULL, message_id BLOB NOT NULL, body BLOB NOT NULL,
  UNIQUE(channel, message_id));
CREATE TABLE history(
  seq INTEGER PRIMARY KEY,
  channel BLOB NOT NULL, message_id BLOB NOT NULL, hint BLOB,
  UNIQUE(channel, message_id));
CREATE INDEX history_by_channel ON history(channel, seq);
CREATE TABLE outgoing(
  seq INTEGER PRIMARY KEY,
  channel BLOB NOT NULL, message_id BLOB NOT NULL,
  send_time INTEGER NOT NULL, attempts INTEGER NOT NULL, bloom_hits INTEGER NOT NULL,
  UNIQUE(channel, message_id));
CREATE TABLE incoming(
  seq INTEGER PRIMARY KEY,
  channel BLOB NOT NULL, message_id BLOB NOT NULL, missing BLOB NOT NULL,
  UNIQUE(channel, message_id));
CREATE TABLE outgoing_repair(
  channel BLOB NOT NULL, message_id BLOB NOT NULL, entry BLOB NOT NULL,
  deadline INTEGER NOT NULL, attempts INTEGER NOT NULL,
  PRIMARY KEY(channel, message_id)) WITHOUT ROWID;
CREATE TABLE incoming_repair(
  channel BLOB NOT NULL, message_id BLOB NOT NULL, entry BLOB NOT NULL,
  deadline INTEGER NOT NULL,
  PRIMARY KEY(channel, message_id)) WITHOUT ROWID;
CREATE TABLE delivered(
  channel BLOB NOT NULL, seq INTEGER NOT NULL, message_id BLOB NOT NULL,
  PRIMARY KEY(channel, seq)) WITHOUT ROWID;
)sql",
    // 2: catch-up cursors (catchup.h), one per (store_id, channel).
    R"sql(
CREATE TABLE catchup_cursors(
  store_id BLOB NOT NULL, channel BLOB NOT NULL, cursor BLOB NOT NULL,
  PRIMARY KEY(store_id, channel)) WITHOUT ROWID;
CREATE INDEX catchup_cursors_by_channel ON catchup_cursors(channel);
)sql",
};
constexpr int kLatestSchema = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));
static_assert(kLatestSchema == SqliteStore::kSchemaVersion);

ByteSpan Span(const std::string& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

Bytes EncodeIds(const std::vector<MessageId>& ids) {
  Bytes out;
  wire::ProtoWriter w(out);
  for (const MessageId& id : ids) w.WriteStringField(1, id);
  return out;
}

Result<std::vector<MessageId>> DecodeIds(ByteSpan bytes) {
  std::vector<MessageId> ids;
  wire::ProtoReader reader(bytes);
  while (!reader.done()) {
    wire::Field field;
    SDS_RETURN_IF_ERROR(reader.Next(field));
    if (field.number == 1 && field.wire_type == wire::WireType::kLengthDelimited) {
      ids.emplace_back(field.bytes.begin(), field.bytes.end());
    }
  }
  return ids;
}

// A prepared statement, reset after every use.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Statement& Bind(int i, ByteSpan bytes) {
    if (bytes.data() == nullptr) {
      sqlite3_bind_zeroblob(stmt_, i, 0);
    } else {
      sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
    }
    return *this;
  }
  Statement& Bind(int i, const std::string& s) { return Bind(i, Span(s)); }
  Statement& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& BindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  Bytes Blob(int col) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? Bytes() : Bytes(p, p + n);
  }
  std::string Str(int col) {
    Bytes b = Blob(col);
    return std::string(b.begin(), b.end());
  }
  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

}  // namespace

class SqliteStore::Impl {
 public:
  ~Impl() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    if (db_ != nullptr) sqlite3_close(db_);
  }

  Status Error(const std::string& what) const {
    return Status(ErrorCode::kPersistence, "sqlite " + path_ + ": " + what + ": " +
                                               sqlite3_errmsg(db_) + " (" +
                                               sqlite3_errstr(sqlite3_extended_errcode(db_)) + ")");
  }
  Status Explain(int rc, const std::string& what) const {
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
        return Error(what);
    }
  }

  Status Exec(const char* sql, const char* what) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return Explain(rc, what);
    return Status::Ok();
  }

  Result<Statement> Prepare(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      sqlite3_stmt* stmt = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return Explain(rc, std::string("preparing ") + sql);
      it = statements_.emplace(sql, stmt).first;
    }
    return Statement(db_, it->second);
  }

  // Runs a statement that returns no rows.
  template <typename BindFn>
  Status Run(const char* sql, BindFn&& bind) {
    auto stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    bind(*stmt);
    int rc = stmt->Step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Explain(rc, sql);
    return Status::Ok();
  }

  Status Open(const std::string& path, const Options& options) {
    path_ = path;
    int rc =
        sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return Explain(rc, "opening");
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, options.busy_timeout_ms);
    // Reading the header first tells "not a database" and "corrupt" apart
    // from everything else.
    SDS_RETURN_IF_ERROR(Exec("SELECT count(*) FROM sqlite_schema", "reading the schema"));
    SDS_RETURN_IF_ERROR(Exec("PRAGMA locking_mode=EXCLUSIVE", "setting exclusive locking"));
    {
      auto stmt = Prepare("PRAGMA journal_mode=WAL");
      if (!stmt.ok()) return stmt.status();
      rc = stmt->Step();
      if (rc != SQLITE_ROW) return Explain(rc, "enabling WAL");
    }
    SDS_RETURN_IF_ERROR(
        Exec(options.sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
             "setting synchronous"));
    SDS_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=OFF", "pragma"));
    // Takes the exclusive lock now: a second connection fails here, clearly.
    SDS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", "locking the database"));
    Status status = Migrate();
    if (!status.ok()) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return status;
    }
    return Exec("COMMIT", "committing the schema");
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
    int64_t version = 0;
    if (tables == 0 && app_id == 0) {
      SDS_RETURN_IF_ERROR(Exec("PRAGMA application_id=1396986673", "setting application_id"));
      SDS_RETURN_IF_ERROR(
          Exec("CREATE TABLE sds_schema(version INTEGER NOT NULL);"
               "INSERT INTO sds_schema VALUES(0)",
               "creating sds_schema"));
    } else if (app_id != kApplicationId) {
      return Status(
          ErrorCode::kPersistence,
          "sqlite " + path_ + ": not an sds store (application_id " + std::to_string(app_id) + ")");
    }
    {
      auto stmt = Prepare("SELECT version FROM sds_schema");
      if (!stmt.ok()) return stmt.status();
      int rc = stmt->Step();
      if (rc != SQLITE_ROW) return Explain(rc, "reading the schema version");
      version = stmt->Int(0);
    }
    if (version > kLatestSchema) {
      return Status(ErrorCode::kPersistence,
                    "sqlite " + path_ + ": written by a newer sds (schema version " +
                        std::to_string(version) + "; this build knows up to " +
                        std::to_string(kLatestSchema) + ")");
    }
    for (int64_t v = version; v < kLatestSchema; ++v) {
      SDS_RETURN_IF_ERROR(Exec(kMigrations[v], "migrating the schema"));
    }
    if (version != kLatestSchema) {
      SDS_RETURN_IF_ERROR(Run("UPDATE sds_schema SET version=?1",
                              [](Statement& s) { s.Bind(1, int64_t{kLatestSchema}); }));
    }
    return Status::Ok();
  }

  // ---- grouping ----
  Status Begin() {
    op_status_ = Status::Ok();
    gc_.clear();
    return Exec("BEGIN", "begin");
  }
  Status Commit() {
    if (op_status_.ok()) {
      // Not a structured binding: C++20 lets a lambda capture those, but
      // Clang 14 does not implement it yet.
      for (const auto& body : gc_) {
        const auto& channel = body.first;
        const auto& id = body.second;
        Status s =
            Run("DELETE FROM bodies WHERE channel=?1 AND message_id=?2"
                " AND NOT EXISTS(SELECT 1 FROM history WHERE channel=?1 AND message_id=?2)"
                " AND NOT EXISTS(SELECT 1 FROM outgoing WHERE channel=?1 AND message_id=?2)"
                " AND NOT EXISTS(SELECT 1 FROM incoming WHERE channel=?1 AND message_id=?2)"
                " AND NOT EXISTS(SELECT 1 FROM incoming_repair WHERE channel=?1 AND message_id=?2)",
                [&](Statement& st) { st.Bind(1, channel).Bind(2, id); });
        if (!s.ok()) {
          op_status_ = s;
          break;
        }
      }
    }
    gc_.clear();
    if (op_status_.ok()) {
      int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
      if (rc == SQLITE_OK) return Status::Ok();
      op_status_ = Explain(rc, "commit");
    }
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return op_status_;
  }

  // Runs `body` inside the current group, or in a group of its own.
  template <typename Body>
  Status InOp(Body&& body) {
    if (in_op_) {
      if (!op_status_.ok()) return op_status_;
      Status s = body();
      if (!s.ok()) op_status_ = s;
      return s;
    }
    SDS_RETURN_IF_ERROR(Begin());
    Status s = body();
    if (!s.ok()) op_status_ = s;
    return Commit();
  }

  Status PutBody(const ChannelId& channel, const MessageId& id, const SharedBytes& body) {
    return Run(
        "INSERT INTO bodies(channel, message_id, body) VALUES(?1,?2,?3)"
        " ON CONFLICT(channel, message_id) DO NOTHING",
        [&](Statement& s) { s.Bind(1, channel).Bind(2, id).Bind(3, body.span()); });
  }

  Status SaveMeta(const ChannelId& ch, const ChannelMetaDelta& d) {
    if (d.replace) {
      for (const char* sql :
           {"DELETE FROM outgoing WHERE channel=?1", "DELETE FROM incoming WHERE channel=?1",
            "DELETE FROM outgoing_repair WHERE channel=?1",
            "DELETE FROM incoming_repair WHERE channel=?1",
            "DELETE FROM delivered WHERE channel=?1",
            "DELETE FROM bodies WHERE channel=?1 AND message_id NOT IN "
            "(SELECT message_id FROM history WHERE channel=?1)"}) {
        SDS_RETURN_IF_ERROR(Run(sql, [&](Statement& s) { s.Bind(1, ch); }));
      }
    }
    int64_t seq = 0;
    {
      auto stmt = Prepare("SELECT delivered_seq FROM channels WHERE channel=?1");
      if (!stmt.ok()) return stmt.status();
      stmt->Bind(1, ch);
      int rc = stmt->Step();
      if (rc == SQLITE_ROW) {
        seq = stmt->Int(0);
      } else if (rc != SQLITE_DONE) {
        return Explain(rc, "reading channel");
      }
    }
    for (const MessageId& id : d.outgoing_remove) {
      SDS_RETURN_IF_ERROR(Run("DELETE FROM outgoing WHERE channel=?1 AND message_id=?2",
                              [&](Statement& s) { s.Bind(1, ch).Bind(2, id); }));
      gc_.emplace(ch, id);
    }
    for (const SnapshotOutgoing& o : d.outgoing_upsert) {
      SDS_RETURN_IF_ERROR(PutBody(ch, o.message_id, o.message));
      SDS_RETURN_IF_ERROR(
          Run("INSERT INTO outgoing(channel, message_id, send_time, attempts, bloom_hits)"
              " VALUES(?1,?2,?3,?4,?5) ON CONFLICT(channel, message_id) DO UPDATE SET"
              " send_time=excluded.send_time, attempts=excluded.attempts,"
              " bloom_hits=excluded.bloom_hits",
              [&](Statement& s) {
                s.Bind(1, ch).Bind(2, o.message_id).Bind(3, UnixMillis(o.send_time));
                s.Bind(4, int64_t{o.resend_attempts}).Bind(5, int64_t{o.bloom_hits});
              }));
    }
    for (const MessageId& id : d.incoming_remove) {
      SDS_RETURN_IF_ERROR(Run("DELETE FROM incoming WHERE channel=?1 AND message_id=?2",
                              [&](Statement& s) { s.Bind(1, ch).Bind(2, id); }));
      gc_.emplace(ch, id);
    }
    for (const SnapshotIncoming& in : d.incoming_upsert) {
      SDS_RETURN_IF_ERROR(PutBody(ch, in.message_id, in.message));
      Bytes missing = EncodeIds(in.missing_deps);
      SDS_RETURN_IF_ERROR(Run(
          "INSERT INTO incoming(channel, message_id, missing) VALUES(?1,?2,?3)"
          " ON CONFLICT(channel, message_id) DO UPDATE SET missing=excluded.missing",
          [&](Statement& s) { s.Bind(1, ch).Bind(2, in.message_id).Bind(3, ByteSpan(missing)); }));
    }
    for (const MessageId& id : d.outgoing_repair_remove) {
      SDS_RETURN_IF_ERROR(Run("DELETE FROM outgoing_repair WHERE channel=?1 AND message_id=?2",
                              [&](Statement& s) { s.Bind(1, ch).Bind(2, id); }));
    }
    for (const SnapshotOutgoingRepair& r : d.outgoing_repair_upsert) {
      Bytes entry = EncodeSnapshotHistoryEntry(r.entry);
      SDS_RETURN_IF_ERROR(Run(
          "INSERT OR REPLACE INTO outgoing_repair(channel, message_id, entry, deadline, attempts)"
          " VALUES(?1,?2,?3,?4,?5)",
          [&](Statement& s) {
            s.Bind(1, ch).Bind(2, r.message_id).Bind(3, ByteSpan(entry));
            s.Bind(4, UnixMillis(r.deadline)).Bind(5, int64_t{r.attempts});
          }));
    }
    for (const MessageId& id : d.incoming_repair_remove) {
      SDS_RETURN_IF_ERROR(Run("DELETE FROM incoming_repair WHERE channel=?1 AND message_id=?2",
                              [&](Statement& s) { s.Bind(1, ch).Bind(2, id); }));
      gc_.emplace(ch, id);
    }
    for (const SnapshotIncomingRepair& r : d.incoming_repair_upsert) {
      SDS_RETURN_IF_ERROR(PutBody(ch, r.message_id, r.cached_message));
      Bytes entry = EncodeSnapshotHistoryEntry(r.entry);
      SDS_RETURN_IF_ERROR(
          Run("INSERT OR REPLACE INTO incoming_repair(channel, message_id, entry, deadline)"
              " VALUES(?1,?2,?3,?4)",
              [&](Statement& s) {
                s.Bind(1, ch).Bind(2, r.message_id).Bind(3, ByteSpan(entry));
                s.Bind(4, UnixMillis(r.deadline));
              }));
    }
    for (const MessageId& id : d.delivered_add) {
      ++seq;
      SDS_RETURN_IF_ERROR(
          Run("INSERT OR REPLACE INTO delivered(channel, seq, message_id) VALUES(?1,?2,?3)",
              [&](Statement& s) { s.Bind(1, ch).Bind(2, seq).Bind(3, id); }));
    }
    if (!d.delivered_add.empty()) {
      SDS_RETURN_IF_ERROR(
          Run("DELETE FROM delivered WHERE channel=?1 AND seq<=?2", [&](Statement& s) {
            s.Bind(1, ch).Bind(2, seq - static_cast<int64_t>(d.delivered_window));
          }));
    }
    return Run(
        "INSERT INTO channels(channel, lamport, sync_due, sync_count, delivered_seq)"
        " VALUES(?1,?2,?3,?4,?5) ON CONFLICT(channel) DO UPDATE SET lamport=excluded.lamport,"
        " sync_due=excluded.sync_due, sync_count=excluded.sync_count,"
        " delivered_seq=excluded.delivered_seq",
        [&](Statement& s) {
          s.Bind(1, ch).Bind(2, int64_t{d.lamport});
          if (d.sync_due) {
            s.Bind(3, UnixMillis(*d.sync_due));
          } else {
            s.BindNull(3);
          }
          s.Bind(4, static_cast<int64_t>(d.sync_count)).Bind(5, seq);
        });
  }

  Status History(const ChannelId& ch, const HistoryUpdate& u) {
    for (const HistoryAppend& a : u.append) {
      SDS_RETURN_IF_ERROR(PutBody(ch, a.message_id, a.message));
      SDS_RETURN_IF_ERROR(
          Run("INSERT OR REPLACE INTO history(channel, message_id, hint) VALUES(?1,?2,?3)",
              [&](Statement& s) {
                s.Bind(1, ch).Bind(2, a.message_id);
                if (a.retrieval_hint.empty()) {
                  s.BindNull(3);
                } else {
                  s.Bind(3, ByteSpan(a.retrieval_hint));
                }
              }));
    }
    for (const MessageId& id : u.evict) {
      SDS_RETURN_IF_ERROR(Run("DELETE FROM history WHERE channel=?1 AND message_id=?2",
                              [&](Statement& s) { s.Bind(1, ch).Bind(2, id); }));
      gc_.emplace(ch, id);
    }
    return Status::Ok();
  }

  Status Drop(const ChannelId& ch) {
    for (const char* sql :
         {"DELETE FROM channels WHERE channel=?1", "DELETE FROM bodies WHERE channel=?1",
          "DELETE FROM history WHERE channel=?1", "DELETE FROM outgoing WHERE channel=?1",
          "DELETE FROM incoming WHERE channel=?1", "DELETE FROM outgoing_repair WHERE channel=?1",
          "DELETE FROM incoming_repair WHERE channel=?1",
          "DELETE FROM delivered WHERE channel=?1",
          "DELETE FROM catchup_cursors WHERE channel=?1"}) {
      SDS_RETURN_IF_ERROR(Run(sql, [&](Statement& s) { s.Bind(1, ch); }));
    }
    return Status::Ok();
  }

  // Iterates the rows of a query bound to the channel.
  template <typename RowFn>
  Status Query(const char* sql, const ChannelId& ch, RowFn&& row) {
    auto stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, ch);
    while (true) {
      int rc = stmt->Step();
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return Explain(rc, sql);
      SDS_RETURN_IF_ERROR(row(*stmt));
    }
  }

  Result<ChannelData> Load(const ChannelId& ch) {
    ChannelData data;
    ChannelMeta& meta = data.meta;
    SDS_RETURN_IF_ERROR(Query("SELECT lamport, sync_due, sync_count FROM channels WHERE channel=?1",
                              ch, [&](Statement& s) {
                                meta.lamport = s.Int(0);
                                if (!s.IsNull(1)) meta.sync_due = TimestampFromUnixMillis(s.Int(1));
                                meta.sync_count = static_cast<uint64_t>(s.Int(2));
                                return Status::Ok();
                              }));
    SDS_RETURN_IF_ERROR(
        Query("SELECT o.message_id, b.body, o.send_time, o.attempts, o.bloom_hits FROM outgoing o"
              " JOIN bodies b ON b.channel=o.channel AND b.message_id=o.message_id"
              " WHERE o.channel=?1 ORDER BY o.send_time, o.seq",
              ch, [&](Statement& s) {
                meta.outgoing.push_back(SnapshotOutgoing{
                    s.Str(0), SharedBytes(s.Blob(1)), TimestampFromUnixMillis(s.Int(2)),
                    static_cast<uint32_t>(s.Int(3)), static_cast<uint32_t>(s.Int(4))});
                return Status::Ok();
              }));
    SDS_RETURN_IF_ERROR(
        Query("SELECT i.message_id, b.body, i.missing FROM incoming i"
              " JOIN bodies b ON b.channel=i.channel AND b.message_id=i.message_id"
              " WHERE i.channel=?1 ORDER BY i.seq",
              ch, [&](Statement& s) -> Status {
                Bytes missing = s.Blob(2);
                auto ids = DecodeIds(missing);
                if (!ids.ok()) return Status(ErrorCode::kPersistence, "corrupt missing-deps list");
                meta.incoming.push_back(SnapshotIncoming{s.Str(0), SharedBytes(s.Blob(1)), *ids});
                return Status::Ok();
              }));
    SDS_RETURN_IF_ERROR(Query(
        "SELECT message_id, entry, deadline, attempts FROM outgoing_repair WHERE channel=?1"
        " ORDER BY message_id",
        ch, [&](Statement& s) -> Status {
          Bytes entry = s.Blob(1);
          auto e = DecodeSnapshotHistoryEntry(entry);
          if (!e.ok()) return Status(ErrorCode::kPersistence, "corrupt repair entry");
          meta.outgoing_repair.push_back(SnapshotOutgoingRepair{
              s.Str(0), *e, TimestampFromUnixMillis(s.Int(2)), static_cast<uint32_t>(s.Int(3))});
          return Status::Ok();
        }));
    SDS_RETURN_IF_ERROR(
        Query("SELECT r.message_id, r.entry, b.body, r.deadline FROM incoming_repair r"
              " JOIN bodies b ON b.channel=r.channel AND b.message_id=r.message_id"
              " WHERE r.channel=?1 ORDER BY r.message_id",
              ch, [&](Statement& s) -> Status {
                Bytes entry = s.Blob(1);
                auto e = DecodeSnapshotHistoryEntry(entry);
                if (!e.ok()) return Status(ErrorCode::kPersistence, "corrupt repair entry");
                meta.incoming_repair.push_back(SnapshotIncomingRepair{
                    s.Str(0), *e, SharedBytes(s.Blob(2)), TimestampFromUnixMillis(s.Int(3))});
                return Status::Ok();
              }));
    SDS_RETURN_IF_ERROR(Query("SELECT message_id FROM delivered WHERE channel=?1 ORDER BY seq", ch,
                              [&](Statement& s) {
                                meta.delivered.push_back(s.Str(0));
                                return Status::Ok();
                              }));
    SDS_RETURN_IF_ERROR(
        Query("SELECT h.message_id, b.body, h.hint FROM history h"
              " JOIN bodies b ON b.channel=h.channel AND b.message_id=h.message_id"
              " WHERE h.channel=?1 ORDER BY h.seq",
              ch, [&](Statement& s) {
                data.message_history.emplace_back(s.Blob(1));
                if (!s.IsNull(2))
                  data.retrieval_hints.push_back(RetrievalHintRecord{s.Str(0), s.Blob(2)});
                return Status::Ok();
              }));
    return data;
  }

  sqlite3* db_ = nullptr;
  std::string path_;
  std::map<const char*, sqlite3_stmt*> statements_;
  bool in_op_ = false;
  Status op_status_;
  std::set<std::pair<ChannelId, MessageId>> gc_;
};

Result<std::shared_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, Options options) {
  auto impl = std::make_unique<Impl>();
  SDS_RETURN_IF_ERROR(impl->Open(path, options));
  return std::shared_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

Result<ChannelData> SqliteStore::LoadChannel(const ChannelId& channel_id) {
  if (impl_->in_op_) return impl_->Load(channel_id);
  // A read, but in a transaction so that it sees one consistent state.
  SDS_RETURN_IF_ERROR(impl_->Exec("BEGIN", "begin"));
  auto data = impl_->Load(channel_id);
  sqlite3_exec(impl_->db_, "COMMIT", nullptr, nullptr, nullptr);
  return data;
}

Status SqliteStore::SaveChannelMeta(const ChannelId& channel_id, const ChannelMetaDelta& delta) {
  return impl_->InOp([&] { return impl_->SaveMeta(channel_id, delta); });
}

Status SqliteStore::UpdateHistory(const ChannelId& channel_id, const HistoryUpdate& update) {
  return impl_->InOp([&] { return impl_->History(channel_id, update); });
}

Status SqliteStore::DropChannel(const ChannelId& channel_id) {
  return impl_->InOp([&] { return impl_->Drop(channel_id); });
}

Result<std::vector<ChannelId>> SqliteStore::ListChannels() {
  // History may be written before the channel's first meta save: both count.
  static constexpr const char* kSql =
      "SELECT channel FROM channels UNION SELECT channel FROM history ORDER BY 1";
  auto stmt = impl_->Prepare(kSql);
  if (!stmt.ok()) return stmt.status();
  std::vector<ChannelId> ids;
  while (true) {
    int rc = stmt->Step();
    if (rc == SQLITE_DONE) return ids;
    if (rc != SQLITE_ROW) return impl_->Explain(rc, kSql);
    ids.push_back(stmt->Str(0));
  }
}

Status SqliteStore::SetRetrievalHint(const ChannelId& channel_id, const MessageId& message_id,
                                     ByteSpan hint) {
  return impl_->InOp([&] {
    return impl_->Run(
        "UPDATE history SET hint=?3 WHERE channel=?1 AND message_id=?2",
        [&](Statement& s) { s.Bind(1, channel_id).Bind(2, message_id).Bind(3, hint); });
  });
}

Status SqliteStore::SaveCatchUpCursor(ByteSpan store_id, const ChannelId& channel_id,
                                      ByteSpan cursor) {
  return impl_->InOp([&] {
    return impl_->Run(
        "INSERT INTO catchup_cursors(store_id, channel, cursor) VALUES(?1,?2,?3)"
        " ON CONFLICT(store_id, channel) DO UPDATE SET cursor=excluded.cursor",
        [&](Statement& s) { s.Bind(1, store_id).Bind(2, channel_id).Bind(3, cursor); });
  });
}

Result<std::vector<StoredCatchUpCursor>> SqliteStore::LoadCatchUpCursors(ByteSpan store_id) {
  auto stmt = impl_->Prepare(
      "SELECT channel, cursor FROM catchup_cursors WHERE store_id=?1 ORDER BY channel");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, store_id);
  std::vector<StoredCatchUpCursor> out;
  while (true) {
    int rc = stmt->Step();
    if (rc == SQLITE_DONE) return out;
    if (rc != SQLITE_ROW) return impl_->Explain(rc, "loading catch-up cursors");
    out.push_back(StoredCatchUpCursor{stmt->Str(0), stmt->Blob(1)});
  }
}

void SqliteStore::BeginOp() {
  if (impl_->in_op_) return;
  impl_->in_op_ = true;
  Status s = impl_->Begin();
  if (!s.ok()) impl_->op_status_ = s;
}

Status SqliteStore::CommitOp() {
  if (!impl_->in_op_) return Status::Ok();
  impl_->in_op_ = false;
  return impl_->Commit();
}

Status SqliteStore::ImportChannel(const ChannelId& channel_id, const ChannelData& data) {
  BeginOp();
  (void)impl_->InOp([&] { return impl_->Drop(channel_id); });
  (void)impl_->InOp([&] {
    return impl_->SaveMeta(channel_id,
                           ChannelMetaDelta::FromSnapshot(data.meta, data.meta.delivered.size()));
  });
  (void)impl_->InOp([&]() -> Status {
    HistoryUpdate update;
    for (const SharedBytes& message : data.message_history) {
      auto decoded = DecodeAny(message);
      if (!decoded.ok()) return decoded.status();
      update.append.push_back(HistoryAppend{decoded->message.message_id, message, {}});
    }
    for (const RetrievalHintRecord& hint : data.retrieval_hints) {
      for (HistoryAppend& a : update.append) {
        if (a.message_id == hint.message_id) a.retrieval_hint = hint.hint;
      }
    }
    return impl_->History(channel_id, update);
  });
  return CommitOp();
}

Result<std::string> SqliteStore::IntegrityCheck() {
  std::string out;
  auto stmt = impl_->Prepare("PRAGMA integrity_check");
  if (!stmt.ok()) return stmt.status();
  while (true) {
    int rc = stmt->Step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return impl_->Explain(rc, "integrity_check");
    if (!out.empty()) out += "\n";
    out += stmt->Str(0);
  }
  return out;
}

}  // namespace sds
