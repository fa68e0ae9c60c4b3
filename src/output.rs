//! Output files written whole or not at all: the content goes to a temporary file in the
//! target's directory, which is flushed to disk and renamed over the target only once
//! complete. A failure (full disk, a database error half-way through an export, Ctrl-C)
//! leaves the target as it was and no temporary file behind (it is removed when dropped).

use std::io::{BufWriter, Write};
use std::path::Path;

/// Why an output file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError<E: std::error::Error + 'static> {
    /// The file could not be created, written or renamed into place.
    #[error("writing {path}: {source}")]
    Io {
        /// The target file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Producing the content failed; nothing was written.
    #[error(transparent)]
    Content(E),
}

/// Writes `path` with what `fill` writes into the buffered writer it is given; returns what
/// `fill` returns. The target's directory must exist.
pub fn write_whole<T, E>(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&mut std::fs::File>) -> Result<T, E>,
) -> Result<T, OutputError<E>>
where
    E: std::error::Error + From<std::io::Error> + 'static,
{
    let io = |source: std::io::Error| OutputError::Io {
        path: path.display().to_string(),
        source,
    };
    if path.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".pudo-")
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(io)?;
    let value = {
        let mut out = BufWriter::new(temp.as_file_mut());
        let value = fill(&mut out).map_err(OutputError::Content)?;
        out.flush().map_err(io)?;
        value
    };
    temp.as_file().sync_all().map_err(io)?;
    temp.persist(path).map_err(|e| io(e.error))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_failure_half_way_leaves_the_target_as_it_was() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old\n").expect("write");
        let result = write_whole(&target, |out| -> Result<(), std::io::Error> {
            out.write_all(&[b'x'; 100_000])?;
            Err(std::io::Error::other("the database went away"))
        });
        assert!(matches!(result, Err(OutputError::Content(_))));
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "old\n");
        assert_eq!(names(dir.path()), vec!["out.csv"], "no temporary file left");
    }

    #[test]
    fn a_complete_write_replaces_the_target() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old\n").expect("write");
        let n = write_whole(&target, |out| -> Result<usize, std::io::Error> {
            out.write_all(b"new\n")?;
            Ok(4)
        })
        .expect("written");
        assert_eq!(n, 4);
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "new\n");
        assert_eq!(names(dir.path()), vec!["out.csv"]);
    }
}
