//! The database file's faults (issue 10, item 10) and unbounded reads of user-named files
//! (item 9, the config and field-map half), through the real `upsight` binary.
//!
//! Each database case breaks the file the way the world does, runs the commands a user
//! would (`set`, `push`, `sync`, `status`, `serve`), and asserts that none panics, that the
//! ones that need the broken part fail with exit 1 and a message that says what happened
//! and what to do, and, through the [`Ledger`], that no edit was lost and every one reaches
//! Salesforce once the fault is gone.
//!
//! How each fault is made, as root and as a normal user alike:
//! - **disk full**: a 2 MiB tmpfs, filled, in a private mount namespace
//!   (`unshare --user --map-root-user --mount`, which needs no privilege where user
//!   namespaces are allowed); where they are not, the case says so and checks nothing;
//! - **read-only**: permission bits. Root ignores them, so as root the commands run as
//!   `nobody` (`Command::uid`), for whom the case's root-owned files are read-only; a normal
//!   user gets `chmod 0444`/`0555`. A read-only bind mount (in a private namespace, when
//!   available) covers the read-only file system;
//! - **locked**: this test process holds SQLite's write lock (`BEGIN EXCLUSIVE`) past
//!   upsight's 5 s busy timeout;
//! - **corrupt**: the `account` table's root page, then the file header, overwritten;
//! - **cannot open**: a directory as the database, a database under a regular file.

use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::rig::{Ledger, Rig, Run};

const NOTE: &str = "CS_Account_Notes__c";
const OTHER_NOTE: &str = "Relationship_Health_Comments__c";

/// The message of a failed run: the JSON error on stderr, or a push report's error.
fn message(run: &Run) -> String {
    let on_stderr = run
        .stderr
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str::<Value>(l).ok())
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned));
    let in_report = || {
        serde_json::from_str::<Value>(&run.stdout)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
    };
    on_stderr
        .or_else(in_report)
        .or_else(|| {
            // `serve` reports through anyhow: `error: ...` on stderr.
            run.stderr
                .lines()
                .find_map(|l| l.strip_prefix("error: ").map(str::to_owned))
        })
        .unwrap_or_else(|| panic!("no error message: {run:?}"))
}

/// No panic, whatever the command: exit 0 or 1, and no Rust panic text.
fn no_panic(what: &str, run: &Run) {
    assert!(
        run.code == 0 || run.code == 1,
        "{what} exited {} (a panic is 101): {run:?}",
        run.code
    );
    assert!(!run.stderr.contains("panicked"), "{what} panicked: {run:?}");
}

/// Asserts exit 1 and every one of `needles` (case-insensitively) in the message.
fn assert_says(what: &str, run: &Run, needles: &[&str]) -> String {
    no_panic(what, run);
    assert_eq!(run.code, 1, "{what} should fail with exit 1: {run:?}");
    let text = message(run);
    eprintln!("{what}: {text}");
    for needle in needles {
        assert!(
            text.to_lowercase().contains(&needle.to_lowercase()),
            "{what}: the message does not say {needle:?}: {text}"
        );
    }
    text
}

/// Runs a prepared `upsight` command to its end.
fn run(mut cmd: Command) -> Run {
    upsight_testkit::run_command({
        cmd.stdin(Stdio::null());
        cmd
    })
}

/// Starts `upsight serve` from `cmd` and gives it `grace` to fail. A serve still running
/// then is stopped (it started: no panic); one that exited is returned with its output.
fn serve_briefly(mut cmd: Command, grace: Duration) -> Option<Run> {
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    cmd.stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap());
    cmd.process_group(0);
    let mut child = cmd.spawn().expect("spawn upsight serve");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > grace {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = match status {
        Some(status) => status,
        None => {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
            return None;
        }
    };
    let read = |f: &tempfile::NamedTempFile| std::fs::read_to_string(f.path()).unwrap();
    Some(Run {
        code: status.code().unwrap_or(-1),
        stdout: read(&out),
        stderr: read(&err),
    })
}

fn serve_args() -> [&'static str; 4] {
    ["serve", "--no-open", "--port", "0"]
}

/// Whether this machine lets an unprivileged process make a private mount namespace.
fn namespaces_available() -> bool {
    Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `sh -c SCRIPT` in a private user and mount namespace, with the rig's environment.
fn in_namespace(rig: &Rig, script: &str) -> Run {
    let mut cmd = Command::new("unshare");
    cmd.args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
        .env_remove("UPSIGHT_SF_PATH")
        .env_remove("UPSIGHT_TRANSPORT")
        .env_remove("UPSIGHT_TARGET_ORG")
        .envs(rig.env())
        .env("UPSIGHT", env!("CARGO_BIN_EXE_upsight"))
        .current_dir(rig.dir.path());
    run(cmd)
}

/// One run's output, written by a namespace script as `NAME.code`, `NAME.out`, `NAME.err`.
fn recorded(dir: &Path, name: &str) -> Run {
    let read = |ext: &str| std::fs::read_to_string(dir.join(format!("{name}.{ext}"))).unwrap();
    Run {
        code: read("code").trim().parse().unwrap(),
        stdout: read("out"),
        stderr: read("err"),
    }
}

/// A rig with two accounts and one pending edit on each, noted.
fn rig_with_pending(tag: &str) -> (Rig, Ledger) {
    let rig = Rig::new(4, 2);
    let mut ledger = Ledger::default();
    for (i, account) in rig.accounts.clone().iter().enumerate() {
        ledger.set(
            &rig,
            account,
            NOTE,
            &format!("{tag} edit {i} before the fault"),
        );
    }
    (rig, ledger)
}

// ---------------------------------------------------------------------------------------
// disk full

pub fn database_disk_full() {
    if !namespaces_available() {
        eprintln!(
            "database_disk_full: SKIPPED, this machine allows no private mount namespace \
             (unshare --user --mount); the store's own test covers SQLITE_FULL"
        );
        return;
    }
    let (rig, mut ledger) = rig_with_pending("disk full");
    let account = rig.accounts[0].clone();
    let out = rig.dir.path().join("full-runs");
    std::fs::create_dir_all(&out).unwrap();
    // The database moves onto a 2 MiB tmpfs that a filler file then fills to the last
    // byte. Every command runs there; then the filler goes and the edit is retried.
    let script = format!(
        r#"set -u
mnt="$PWD/mnt"; out="{out}"
mkdir -p "$mnt" && mount -t tmpfs -o size=2m tmpfs "$mnt" || exit 97
cp "$UPSIGHT_DB" "$mnt/upsight.db" || exit 98
export UPSIGHT_DB="$mnt/upsight.db"
dd if=/dev/zero of="$mnt/filler" bs=4k >/dev/null 2>&1
record() {{ name=$1; shift; "$UPSIGHT" "$@" --json >"$out/$name.out" 2>"$out/$name.err"; echo $? >"$out/$name.code"; }}
record set set {account} {OTHER_NOTE} "typed while the disk was full"
record push push
record sync sync
record status status
record changes changes
# With a serve running, its open connection keeps the -wal and -shm files: a write then
# fails appending to the WAL (SQLITE_FULL itself) rather than creating the -shm.
rm "$mnt/filler"
"$UPSIGHT" serve --no-open --port 0 --json >"$out/served.out" 2>"$out/served.err" &
served=$!
for i in $(seq 1 100); do grep -q url "$out/served.out" 2>/dev/null && break; sleep 0.1; done
dd if=/dev/zero of="$mnt/filler" bs=1k >/dev/null 2>&1
record set_served set {account} {OTHER_NOTE} "typed while the disk was full"
kill $served; wait $served
rm "$mnt/filler"
dd if=/dev/zero of="$mnt/filler" bs=1k >/dev/null 2>&1
# serve either refuses (exit 1) or starts and is killed after 3 s (137): never a panic.
timeout -s KILL 3 "$UPSIGHT" serve --no-open --port 0 --json >"$out/serve.out" 2>"$out/serve.err"; echo $? >"$out/serve.code"
rm "$mnt/filler"
record retry set {account} {OTHER_NOTE} "typed while the disk was full"
cp "$mnt/upsight.db" "{db}" && rm -f "{db}-wal" "{db}-shm"
"#,
        out = out.display(),
        db = rig.db().display(),
    );
    let ran = in_namespace(&rig, &script);
    assert_eq!(ran.code, 0, "the disk-full script failed: {ran:?}");

    let set = recorded(&out, "set");
    let said = assert_says(
        "set on a full disk",
        &set,
        &[
            "disk holding the database",
            "is full",
            "free now",
            "no earlier edit was lost",
            "free some disk space, then run the command again",
        ],
    );
    assert!(
        said.contains("SQLite:"),
        "SQLite's own words are kept: {said}"
    );
    let set_served = recorded(&out, "set_served");
    let said = assert_says(
        "set on a full disk while serve runs",
        &set_served,
        &[
            "is full",
            "no earlier edit was lost",
            "run the command again",
        ],
    );
    assert!(said.contains("full, code 13"), "SQLITE_FULL itself: {said}");
    for name in ["push", "sync"] {
        let run = recorded(&out, name);
        no_panic(name, &run);
        if run.code != 0 {
            let text = message(&run);
            assert!(
                text.contains("is full") || text.contains("Salesforce"),
                "{name}: {text}"
            );
        }
    }
    no_panic("status", &recorded(&out, "status"));
    let changes = recorded(&out, "changes");
    no_panic("changes", &changes);
    let serve = recorded(&out, "serve");
    assert!(
        serve.code == 1 || serve.code == 137,
        "serve on a full disk: {serve:?}"
    );
    assert!(
        !serve.stderr.contains("panicked"),
        "serve panicked: {serve:?}"
    );

    // Space freed, the same command again: saved.
    let retry = recorded(&out, "retry");
    assert_eq!(retry.code, 0, "the retry after freeing space: {retry:?}");
    ledger.note(
        "account",
        &account,
        OTHER_NOTE,
        "typed while the disk was full",
    );
    ledger.assert_intact(&rig);
    ledger.settle(&rig);
}

// ---------------------------------------------------------------------------------------
// read-only

/// Whether this process is root (permission bits do not bind it).
fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `upsight ARGS --json` as a user for whom the case's root-owned files are read-only:
/// `nobody` when this process is root, this user otherwise.
fn as_unprivileged(rig: &Rig, args: &[&str]) -> Command {
    let mut cmd = rig.command(args, &[], &[]);
    if is_root() {
        cmd.uid(65534).gid(65534);
    }
    cmd
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs every command against the read-only database and checks what each says.
fn read_only_commands(rig: &Rig, account: &str, needles: &[&str]) {
    let set = run(as_unprivileged(
        rig,
        &["set", account, OTHER_NOTE, "typed while read-only"],
    ));
    assert_says("set on a read-only database", &set, needles);
    for args in [&["push"][..], &["sync"][..]] {
        let run = run(as_unprivileged(rig, args));
        no_panic(args[0], &run);
        assert_eq!(run.code, 1, "{args:?} on a read-only database: {run:?}");
        let text = message(&run);
        assert!(text.contains("read-only"), "{args:?}: {text}");
    }
    no_panic("status", &run(as_unprivileged(rig, &["status"])));
    if let Some(served) = serve_briefly(as_unprivileged(rig, &serve_args()), Duration::from_secs(3))
    {
        no_panic("serve", &served);
    }
}

pub fn database_read_only() {
    let (rig, ledger) = rig_with_pending("read-only");
    let account = rig.accounts[0].clone();
    let dir = rig.dir.path().to_path_buf();
    let db = rig.db();
    // nobody must reach the case's directory (a temp dir is 0700) and run the token sf.
    chmod(&dir, 0o755);
    let uid = nix::unistd::Uid::from_raw(65534);
    let gid = nix::unistd::Gid::from_raw(65534);

    // 1. The file is not writable, its directory is.
    if is_root() {
        // Root-owned 0644 (upsight creates it 0600): read-only for nobody; the directory
        // writable for everyone.
        chmod(&db, 0o644);
        chmod(&dir, 0o777);
    } else {
        chmod(&db, 0o444);
    }
    read_only_commands(
        &rig,
        &account,
        &[
            "is read-only",
            "the file is not writable",
            "chmod u+w",
            "nothing was changed",
        ],
    );
    chmod(&db, 0o644);
    chmod(&dir, 0o755);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }

    // 2. The file is writable, its directory is not: SQLite cannot create -wal and -shm.
    if is_root() {
        nix::unistd::chown(&db, Some(uid), Some(gid)).unwrap();
    } else {
        chmod(&dir, 0o555);
    }
    read_only_commands(
        &rig,
        &account,
        &[
            &format!("its directory {} is not writable", dir.display()),
            "-wal and -shm",
        ],
    );
    chmod(&dir, 0o755);
    nix::unistd::chown(&db, Some(nix::unistd::geteuid()), None).unwrap();

    // 3. The file system is mounted read-only (a read-only bind mount of the directory).
    if namespaces_available() {
        let out = tempfile::tempdir().unwrap();
        let script = format!(
            r#"mount --bind "{dir}" "{dir}" && mount -o remount,ro,bind "{dir}" "{dir}" || exit 97
"$UPSIGHT" set {account} {OTHER_NOTE} "typed on a read-only mount" --json >"{out}/ro.out" 2>"{out}/ro.err"; echo $? >"{out}/ro.code"
"#,
            dir = dir.display(),
            out = out.path().display(),
        );
        let ran = in_namespace(&rig, &script);
        assert_eq!(ran.code, 0, "the read-only mount script failed: {ran:?}");
        assert_says(
            "set on a read-only mount",
            &recorded(out.path(), "ro"),
            &["is read-only", "mounted read-only", "--db PATH"],
        );
    } else {
        eprintln!(
            "database_read_only: no private mount namespace; the read-only mount is not tried"
        );
    }

    // Nothing was lost, and once writable everything reaches Salesforce.
    ledger.assert_intact(&rig);
    ledger.settle(&rig);
}

// ---------------------------------------------------------------------------------------
// locked

pub fn database_locked() {
    let (rig, mut ledger) = rig_with_pending("locked");
    let account = rig.accounts[0].clone();
    // This process takes SQLite's write lock and keeps it past upsight's busy timeout, and
    // holds upsight's push lock file the way a pusher does: an exclusive flock, its pid
    // inside.
    let holder = rusqlite::Connection::open(rig.db()).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let lock_path = PathBuf::from(format!("{}.push-lock", rig.db().display()));
    std::fs::write(&lock_path, format!("{}\n", std::process::id())).unwrap();
    let push_lock = nix::fcntl::Flock::lock(
        std::fs::File::open(&lock_path).unwrap(),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .map_err(|(_, e)| e)
    .expect("flock the push lock");
    let started = Instant::now();
    let set = rig.run(&["set", &account, OTHER_NOTE, "typed while locked"]);
    let waited = started.elapsed();
    let me = std::process::id();
    let mut needles = vec![
        "is locked by".to_owned(),
        "waited 5 s".to_owned(),
        "run the command again".to_owned(),
    ];
    if cfg!(target_os = "linux") {
        // The kernel's lock table names this very process.
        needles.push(format!("process {me}"));
        needles.push("fault_matrix".to_owned());
        needles.push("holding upsight's push-lock".to_owned());
    }
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    assert_says("set on a locked database", &set, &needles);
    assert!(
        waited >= Duration::from_secs(4),
        "it waited only {waited:?}"
    );
    // Reading is not blocked by a writer (WAL), and status has nothing to write.
    let changes = rig.run(&["changes"]);
    assert_eq!(changes.code, 0, "{changes:?}");
    no_panic("status", &rig.run(&["status"]));
    // A sync waits for the lock the same way, then says the same.
    let sync = rig.run(&["sync"]);
    no_panic("sync", &sync);
    assert_eq!(sync.code, 1, "{sync:?}");
    assert!(message(&sync).contains("is locked by"), "{sync:?}");
    // A push waits for the pusher that holds the push lock (one pusher per database),
    // saying whom it waits for, and pushes once that one is done.
    let mut push = rig
        .command(&["push"], &[], &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn push");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        push.try_wait().unwrap().is_none(),
        "push did not wait for the pusher holding the lock"
    );
    if let Some(served) =
        serve_briefly(rig.command(&serve_args(), &[], &[]), Duration::from_secs(3))
    {
        no_panic("serve", &served);
    }
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    drop(push_lock);
    let pushed = push.wait_with_output().expect("the waiting push");
    let said = String::from_utf8_lossy(&pushed.stderr);
    assert!(
        said.contains(&format!("pid {me}")) && said.contains("waiting"),
        "the push did not say whom it waited for: {said}"
    );
    assert_eq!(pushed.status.code(), Some(0), "{said}");
    let report: serde_json::Value = serde_json::from_slice(&pushed.stdout).expect("push --json");
    assert_eq!(report["waited_for_pid"], me, "{report}");

    // The lock is gone: the same command again is saved.
    ledger.set(&rig, &account, OTHER_NOTE, "typed while locked");
    ledger.assert_intact(&rig);
    ledger.settle(&rig);
}

// ---------------------------------------------------------------------------------------
// file size limit

/// A file-size limit (`ulimit -f`, RLIMIT_FSIZE) below what the next write needs: the
/// kernel sends SIGXFSZ, whose default kills the process without a word. upsight ignores
/// it, so the write fails (EFBIG: SQLite cannot grow its files) and the command says what
/// happened and where to look, with nothing lost.
pub fn database_file_size_limit() {
    let (rig, mut ledger) = rig_with_pending("file size");
    let account = rig.accounts[0].clone();
    let inner = rig.command(
        &[
            "set",
            &account,
            OTHER_NOTE,
            "typed past the file size limit",
        ],
        &[],
        &[],
    );
    // One 1 KiB block: the first page SQLite writes is past it.
    let mut limited = Command::new("bash");
    limited
        .arg("-c")
        .arg("ulimit -f 1 && exec \"$@\"")
        .arg("bash")
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(rig.dir.path())
        .stdin(Stdio::null());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => limited.env(key, value),
            None => limited.env_remove(key),
        };
    }
    let set = upsight_testkit::run_command(limited);
    assert_says(
        "set past the file size limit",
        &set,
        &[
            "nothing was saved by this command",
            "no earlier edit was lost",
            "ulimit -f",
        ],
    );
    ledger.assert_intact(&rig);
    // Without the limit, the same edit is saved, and everything goes.
    ledger.set(&rig, &account, OTHER_NOTE, "typed past the file size limit");
    ledger.assert_intact(&rig);
    ledger.settle(&rig);
}

// ---------------------------------------------------------------------------------------
// corrupt

/// The root page number of `table`, read before the damage.
fn root_page(db: &Path, table: &str) -> (u64, u64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let page: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .unwrap();
    let size: i64 = conn
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .unwrap();
    (page as u64, size as u64)
}

fn overwrite(db: &Path, offset: u64, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(db)
        .unwrap();
    let mut probe = [0u8; 1];
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.read_exact(&mut probe).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
    file.sync_all().unwrap();
}

pub fn database_corrupt() {
    let (rig, ledger) = rig_with_pending("corrupt");
    let account = rig.accounts[0].clone();
    let db = rig.db();
    // Every upsight process has ended, so the WAL is checkpointed into the file. Overwrite
    // the root pages of the `account` and `settings` tables: every command that opens the
    // database reads its settings, so each one meets the damage; the change log stays
    // readable.
    for table in ["account", "settings"] {
        let (page, size) = root_page(&db, table);
        overwrite(&db, (page - 1) * size, &vec![0xa5; size as usize]);
    }

    let set = rig.run(&["set", &account, OTHER_NOTE, "typed on a damaged file"]);
    let said = assert_says(
        "set on a damaged database",
        &set,
        &[
            "is damaged",
            "changes --json > changes.json",
            "move the file aside",
            "keeps no unpushed edit",
        ],
    );
    assert!(
        said.contains("malformed"),
        "SQLite's own words are kept: {said}"
    );

    // The export the message asks for works on this damaged file: every unpushed edit.
    let export = rig.run(&["changes"]);
    assert_eq!(
        export.code, 0,
        "changes --json on the damaged file: {export:?}"
    );
    let exported: Vec<Value> = export.json().as_array().cloned().unwrap();
    for ((_, sf_id, field), value) in &ledger.last {
        assert!(
            exported.iter().any(|c| c["sf_id"] == sf_id.as_str()
                && c["field"] == field.as_str()
                && c["new_value"] == value.as_str()
                && c["status"] == "pending"),
            "edit {sf_id}.{field} = {value:?} is not in the export: {exported:#?}"
        );
    }
    // A sync cannot apply to the damaged table, and says so; status needs no table. (Not
    // push or serve here: with the change log intact they may well push, which is right
    // but would make the recovery below depend on timing.)
    let sync = rig.run(&["sync"]);
    no_panic("sync", &sync);
    if sync.code != 0 {
        assert!(message(&sync).contains("is damaged"), "{sync:?}");
    }
    no_panic("status", &rig.run(&["status"]));

    // A damaged header: nothing opens, every command says how to recover, none panics.
    overwrite(&db, 0, b"this is no longer SQLite\0");
    for args in [
        &["set", account.as_str(), OTHER_NOTE, "x"][..],
        &["push"][..],
        &["sync"][..],
        &["status"][..],
    ] {
        assert_says(
            args[0],
            &rig.run(args),
            &["is damaged", "keeps no unpushed edit"],
        );
    }
    let served = serve_briefly(
        rig.command(&serve_args(), &[], &[]),
        Duration::from_secs(10),
    )
    .expect("serve refuses a damaged database at once");
    assert_says("serve", &served, &["is damaged"]);

    // Recovery as the message says: move the file aside, add the accounts again, and
    // enter the exported edits again. They all reach Salesforce.
    std::fs::rename(&db, db.with_extension("db.damaged")).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut args = vec!["accounts", "add"];
    for id in &rig.accounts {
        args.extend(["--sf-id", id.as_str()]);
    }
    rig.ok(&args);
    let mut again = Ledger::default();
    for c in exported.iter().filter(|c| c["status"] == "pending") {
        again.set(
            &rig,
            c["sf_id"].as_str().unwrap(),
            c["field"].as_str().unwrap(),
            c["new_value"].as_str().unwrap(),
        );
    }
    assert_eq!(
        again.last, ledger.last,
        "the export holds every edit of the ledger"
    );
    again.settle(&rig);
}

// ---------------------------------------------------------------------------------------
// cannot open

pub fn database_cannot_open() {
    let (rig, ledger) = rig_with_pending("cannot open");
    let account = rig.accounts[0].clone();
    let dir = rig.dir.path();
    let a_dir = dir.join("a-directory");
    std::fs::create_dir_all(&a_dir).unwrap();
    let a_file = dir.join("a-file");
    std::fs::write(&a_file, "not a directory").unwrap();
    let under_file = a_file.join("upsight.db");
    let cases: [(&PathBuf, Vec<String>); 2] = [
        (
            &a_dir,
            vec![
                format!("cannot open the database {}", a_dir.display()),
                "is a directory, not a database file".into(),
            ],
        ),
        (
            &under_file,
            vec![
                format!("cannot open the database {}", under_file.display()),
                format!("{} is not a directory", a_file.display()),
                "--db PATH".into(),
            ],
        ),
    ];
    for (db, needles) in &cases {
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        let set: [(&str, OsString); 1] = [("UPSIGHT_DB", db.as_os_str().to_owned())];
        for args in [
            &["set", account.as_str(), OTHER_NOTE, "x"][..],
            &["push"][..],
            &["sync"][..],
            &["status"][..],
        ] {
            let run = rig.run_with(args, &set, &[]);
            assert_says(
                &format!("{} with --db {}", args[0], db.display()),
                &run,
                &needles,
            );
        }
        let served = serve_briefly(
            rig.command(&serve_args(), &set, &[]),
            Duration::from_secs(10),
        )
        .expect("serve refuses at once");
        assert_says("serve", &served, &needles);
    }
    ledger.assert_intact(&rig);
    ledger.settle(&rig);
}

// ---------------------------------------------------------------------------------------
// config and field-map files

pub fn config_and_field_map_files_are_bounded() {
    let rig = Rig::new(2, 1);
    let dir = rig.dir.path();
    let fifo = dir.join("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let big = dir.join("big.toml");
    std::fs::write(&big, vec![b'#'; 2 << 20]).unwrap();
    let subdir = dir.join("a-directory.toml");
    std::fs::create_dir_all(&subdir).unwrap();
    let bad: [(&Path, &str); 4] = [
        (Path::new("/dev/zero"), "a character device"),
        (&fifo, "a FIFO"),
        (&subdir, "a directory"),
        (&big, "larger than 1024 KiB"),
    ];
    for (path, kind) in bad {
        for (var, what, step) in [
            ("UPSIGHT_CONFIG", "the config file", "UPSIGHT_CONFIG"),
            (
                "UPSIGHT_FIELD_MAP_PATH",
                "the field map override",
                "field_map_path",
            ),
        ] {
            let started = Instant::now();
            let run = rig.run_with(
                &["accounts", "list"],
                &[(var, path.as_os_str().into())],
                &[],
            );
            let took = started.elapsed();
            assert_eq!(run.code, 2, "{var}={}: {run:?}", path.display());
            let text = run.error_message();
            for needle in [what, &path.display().to_string(), kind, step] {
                assert!(text.contains(needle), "{var}: {needle:?} missing: {text}");
            }
            // Refused at once, not read until memory runs out (or a writer comes).
            assert!(took < Duration::from_secs(10), "{var}: took {took:?}");
        }
        let run = rig.run(&["accounts", "add", "--sf-id-file", path.to_str().unwrap()]);
        assert_eq!(run.code, 2, "--sf-id-file {}: {run:?}", path.display());
        let text = run.error_message();
        assert!(
            text.contains("the Id file") && text.contains(kind),
            "{text}"
        );
    }
    // A real config file still works.
    let good = dir.join("config.toml");
    std::fs::write(&good, "transport = \"rest\"\n").unwrap();
    let run = rig.run_with(
        &["accounts", "list"],
        &[("UPSIGHT_CONFIG", good.into())],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
}
