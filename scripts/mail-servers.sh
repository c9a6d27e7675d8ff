#!/usr/bin/env bash
# Throwaway mail servers on 127.0.0.1 for carekit-email's end-to-end tests
# and the email_desk example (needs root: Dovecot drops privileges itself).
#
#   scripts/mail-servers.sh start   # install if missing, start both, print settings
#   scripts/mail-servers.sh stop    # stop what `start` started
#
# IMAP: Dovecot on 127.0.0.1:${IMAP_PORT:-10143}, any user, password "secret", no TLS.
# SMTP: aiosmtpd on 127.0.0.1:${SMTP_PORT:-8025}, writing every message to the
#       maildir $STATE/smtp-maildir (new/ holds what arrived).
# The cargo tests start their own instances on free ports; this script is for
# CI images (it installs the servers) and for trying the example by hand.
set -euo pipefail

IMAP_PORT="${IMAP_PORT:-10143}"
SMTP_PORT="${SMTP_PORT:-8025}"
STATE="${CAREKIT_MAIL_STATE:-/tmp/carekit-mail-servers}"

install() {
  if ! command -v dovecot >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y dovecot-imapd >/dev/null
  fi
  if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
    python3 -m pip install --quiet aiosmtpd
  fi
}

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "port $1 did not open" >&2
  return 1
}

start() {
  install
  mkdir -p "$STATE/run" "$STATE/state" "$STATE/mail" "$STATE/smtp-maildir/tmp" "$STATE/smtp-maildir/new" "$STATE/smtp-maildir/cur"
  chmod 755 "$STATE"
  chown -R dovecot:dovecot "$STATE/mail"
  cat >"$STATE/dovecot.conf" <<CONF
base_dir = $STATE/run
state_dir = $STATE/state
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = $STATE/dovecot.log
mail_location = maildir:$STATE/mail/%u
passdb {
  driver = static
  args = password=secret
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$STATE/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
  user = dovenull
}
service anvil {
  chroot =
}
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
CONF
  dovecot -c "$STATE/dovecot.conf"
  wait_port "$IMAP_PORT"
  nohup python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" \
    -c aiosmtpd.handlers.Mailbox "$STATE/smtp-maildir" >"$STATE/aiosmtpd.log" 2>&1 &
  echo $! >"$STATE/aiosmtpd.pid"
  wait_port "$SMTP_PORT"
  echo "IMAP 127.0.0.1:$IMAP_PORT (any user, password secret); SMTP 127.0.0.1:$SMTP_PORT -> $STATE/smtp-maildir"
}

stop() {
  if [ -f "$STATE/dovecot.conf" ]; then doveadm -c "$STATE/dovecot.conf" stop 2>/dev/null || true; fi
  if [ -f "$STATE/aiosmtpd.pid" ]; then
    kill "$(cat "$STATE/aiosmtpd.pid")" 2>/dev/null || true
    rm -f "$STATE/aiosmtpd.pid"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
