//! Throwaway real mail servers on 127.0.0.1 for end-to-end tests: Dovecot
//! (IMAP, any user, password `secret`) and aiosmtpd writing to a maildir.
//! Each returns `None` with a loud message when it cannot run here.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

fn wait_for_port(port: u16, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn skip(what: &str, why: &str) {
    eprintln!("\n*** SKIPPED {what}: {why} ***\n");
}

/// A Dovecot instance in a temporary directory.
pub struct Dovecot {
    pub port: u16,
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl Dovecot {
    pub fn start(test: &str) -> Option<Self> {
        if Command::new("dovecot").arg("--version").output().is_err() {
            skip(
                test,
                "dovecot is not installed (apt-get install -y dovecot-imapd, or scripts/mail-servers.sh)",
            );
            return None;
        }
        let dir = tempfile::tempdir().ok()?;
        let root = dir.path();
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(root.join(sub)).ok()?;
        }
        let _ = Command::new("chmod").arg("755").arg(root).status();
        let _ = Command::new("chown")
            .args(["-R", "dovecot:dovecot"])
            .arg(root.join("mail"))
            .status();
        let port = free_port();
        let conf = root.join("dovecot.conf");
        let d = root.display();
        std::fs::write(
            &conf,
            format!(
                "base_dir = {d}/run\nstate_dir = {d}/state\nprotocols = imap\nlisten = 127.0.0.1\n\
                 ssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
                 log_path = {d}/dovecot.log\nmail_location = maildir:{d}/mail/%u\n\
                 passdb {{\n  driver = static\n  args = password=secret\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={d}/mail/%u\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n\
                 inet_listener imaps {{\n    port = 0\n  }}\n  chroot =\n  user = dovenull\n}}\n\
                 service anvil {{\n  chroot =\n}}\n\
                 default_internal_user = dovecot\ndefault_login_user = dovenull\nfirst_valid_uid = 1\n"
            ),
        )
        .ok()?;
        let status = Command::new("dovecot").arg("-c").arg(&conf).status();
        if !matches!(status, Ok(s) if s.success()) || !wait_for_port(port, Duration::from_secs(10))
        {
            let log = std::fs::read_to_string(root.join("dovecot.log")).unwrap_or_default();
            skip(
                test,
                &format!("dovecot did not start ({status:?}); log: {log}"),
            );
            return None;
        }
        Some(Self { port, dir, conf })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// aiosmtpd with its Mailbox handler writing each message to a maildir.
pub struct SmtpSink {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    pub fn start(test: &str) -> Option<Self> {
        let has = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status();
        if !matches!(has, Ok(s) if s.success()) {
            skip(
                test,
                "python3 aiosmtpd is not installed (python3 -m pip install aiosmtpd, or scripts/mail-servers.sh)",
            );
            return None;
        }
        let dir = tempfile::tempdir().ok()?;
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let sink = Self { port, child, dir };
        if !wait_for_port(port, Duration::from_secs(10)) {
            skip(test, "aiosmtpd did not start");
            return None;
        }
        Some(sink)
    }

    /// Raw messages that arrived so far.
    pub fn received(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let dir: &Path = &self.dir.path().join("maildir").join(sub);
            if let Ok(entries) = std::fs::read_dir(dir) {
                let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
                paths.sort();
                out.extend(paths.iter().filter_map(|p| std::fs::read(p).ok()));
            }
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
