//! Reading the files a user names (the config file, the field-map override, an Id file),
//! bounded.
//!
//! A path is user input: `/dev/zero`, a FIFO or a directory given as a config file must be
//! refused at once, not read until memory runs out or a writer shows up. So every such read
//! goes through [`read_user_file`]: it opens without blocking (a FIFO with no writer would
//! otherwise hang the open), checks the *opened* file's metadata (after the open, not
//! before: a path checked first could be swapped for a device between the check and the
//! open), refuses anything but a regular file, and reads at most [`USER_FILE_LIMIT`] bytes.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The most upsight reads of a user-named file: 1 MiB. The config file is a few hundred
/// bytes of TOML and the built-in field map about 10 KiB; a field map for an org with a
/// thousand custom fields stays under 200 KiB, and an Id file of 50,000 Ids is 1 MiB. More
/// than that is a wrong path, and reading it whole would only cost memory.
pub const USER_FILE_LIMIT: u64 = 1 << 20;

/// Which file the user named, for the message and the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// The TOML config file (`UPSIGHT_CONFIG` or the default location).
    Config,
    /// The field-map override (`field_map_path`).
    FieldMap,
    /// An Id file (`accounts add --sf-id-file`).
    IdFile,
    /// One of upsight's lock files next to the database (read for the holder's pid).
    LockFile,
}

impl FileRole {
    fn name(self) -> &'static str {
        match self {
            FileRole::Config => "the config file",
            FileRole::FieldMap => "the field map override",
            FileRole::IdFile => "the Id file",
            FileRole::LockFile => "the lock file",
        }
    }

    fn next_step(self) -> &'static str {
        match self {
            FileRole::Config => "point UPSIGHT_CONFIG at a TOML file, or remove the file",
            FileRole::FieldMap => {
                "set field_map_path to a TOML file, or unset it \
                 (`upsight settings set field_map_path ''`, or UPSIGHT_FIELD_MAP_PATH)"
            }
            FileRole::IdFile => "pass a text file with one Id or record URL per line",
            FileRole::LockFile => "remove it when no upsight process runs",
        }
    }
}

/// Why a user-named file was not read.
#[derive(Debug)]
pub enum FileProblem {
    /// It is a directory, a FIFO, a device or a socket.
    NotAFile { kind: &'static str },
    /// It holds more than `limit` bytes.
    TooLarge { limit: u64 },
    /// It is not UTF-8 text.
    NotText,
    /// Opening or reading it failed.
    Io(std::io::Error),
}

/// A user-named file that was refused or could not be read.
#[derive(Debug, thiserror::Error)]
pub struct FileError {
    pub role: FileRole,
    pub path: PathBuf,
    pub problem: FileProblem,
}

impl FileError {
    /// Whether the file does not exist (a missing config file is not an error).
    pub fn is_not_found(&self) -> bool {
        matches!(&self.problem, FileProblem::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, path) = (self.role.name(), self.path.display());
        match &self.problem {
            FileProblem::NotAFile { kind } => {
                write!(f, "{what} {path} is {kind}, not a regular file")?
            }
            FileProblem::TooLarge { limit } => write!(
                f,
                "{what} {path} is larger than {} KiB, the most upsight reads of it (a real one \
                 is a few KiB of text)",
                limit / 1024
            )?,
            FileProblem::NotText => write!(f, "{what} {path} is not UTF-8 text")?,
            FileProblem::Io(e) => write!(f, "cannot read {what} {path}: {e}")?,
        }
        write!(f, "; {}", self.role.next_step())
    }
}

/// What kind of non-regular file `file_type` is, in words.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads the user-named file at `path` as text: only a regular file, at most `limit` bytes.
pub fn read_user_file(role: FileRole, path: &Path, limit: u64) -> Result<String, FileError> {
    let error = |problem| FileError {
        role,
        path: path.to_path_buf(),
        problem,
    };
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. It changes
    // nothing for a regular file.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|e| error(FileProblem::Io(e)))?;
    // The metadata of what was opened, not of the path: no race with a swapped path.
    let meta = file.metadata().map_err(|e| error(FileProblem::Io(e)))?;
    if !meta.is_file() {
        return Err(error(FileProblem::NotAFile {
            kind: kind_of(meta.file_type()),
        }));
    }
    if meta.len() > limit {
        return Err(error(FileProblem::TooLarge { limit }));
    }
    // The file may grow after the check: read one byte past the limit at most.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| error(FileProblem::Io(e)))?;
    if bytes.len() as u64 > limit {
        return Err(error(FileProblem::TooLarge { limit }));
    }
    String::from_utf8(bytes).map_err(|_| error(FileProblem::NotText))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> Result<String, FileError> {
        read_user_file(FileRole::Config, path, USER_FILE_LIMIT)
    }

    #[test]
    fn a_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "transport = \"cli\"\n").unwrap();
        assert_eq!(read(&path).unwrap(), "transport = \"cli\"\n");
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let started = std::time::Instant::now();
        for (path, kind) in [
            (Path::new("/dev/zero"), "a character device"),
            (fifo.as_path(), "a FIFO"),
            (dir.path(), "a directory"),
        ] {
            let err = read(path).unwrap_err();
            assert!(
                matches!(err.problem, FileProblem::NotAFile { .. }),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(message.contains(kind), "{message}");
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("UPSIGHT_CONFIG"), "{message}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn a_file_over_the_limit_is_refused_with_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.toml");
        std::fs::write(&path, vec![b'#'; 2 << 20]).unwrap();
        let err = read(&path).unwrap_err();
        assert!(matches!(err.problem, FileProblem::TooLarge { limit } if limit == 1 << 20));
        assert!(err.to_string().contains("1024 KiB"), "{err}");
        // Exactly at the limit is fine.
        std::fs::write(&path, vec![b'#'; 1 << 20]).unwrap();
        assert_eq!(read(&path).unwrap().len(), 1 << 20);
    }

    #[test]
    fn a_missing_file_is_known_as_missing() {
        let err = read(Path::new("/nonexistent/config.toml")).unwrap_err();
        assert!(err.is_not_found());
    }
}
