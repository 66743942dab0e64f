#!/usr/bin/env bash
# Install and start what the integration tests need, when it is missing: MariaDB server on 127.0.0.1:3306
# (root, empty password), Debian's chromium, and LibreOffice Impress + poppler-utils (the slide's pptx is
# rendered to PDF and PNG). Idempotent; safe to run on a machine that has them.
set -euo pipefail

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

mariadb_up() {
  mariadb -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1
}

if ! mariadb_up; then
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    echo "-> installing mariadb-server"
    apt_install mariadb-server mariadb-client
  fi
  echo "-> starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1 --port=3306
  for _ in $(seq 1 60); do
    mariadb_up && break
    sleep 1
  done
  if ! mariadb_up; then
    # A fresh install may give root unix-socket auth only: allow the tests' passwordless TCP login.
    mariadb -u root -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" 2>/dev/null || true
  fi
  mariadb_up || { echo "error: MariaDB did not start on 127.0.0.1:3306" >&2; exit 1; }
fi
echo "-> MariaDB is up on 127.0.0.1:3306"

if ! command -v chromium >/dev/null 2>&1; then
  echo "-> installing chromium"
  apt_install chromium
fi
echo "-> $(chromium --version 2>/dev/null || echo 'chromium missing')"

if ! command -v soffice >/dev/null 2>&1; then
  echo "-> installing libreoffice-impress"
  apt_install libreoffice-impress
fi
echo "-> $(soffice --version 2>/dev/null | head -n 1 || echo 'LibreOffice missing')"

if ! command -v pdftoppm >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
  echo "-> installing poppler-utils"
  apt_install poppler-utils
fi
echo "-> $(pdftoppm -v 2>&1 | head -n 1 || echo 'poppler-utils missing')"
