#!/bin/bash
# Makes sure headless Chromium and its WebDriver (chromedriver) are installed, from the OS
# packages (Debian's chromium and chromium-driver), for the console's browser tests. Safe to run
# again.
set -euo pipefail
if command -v chromedriver >/dev/null && command -v chromium >/dev/null; then
  echo "chromium: $(chromedriver --version | cut -d' ' -f1-2) already installed"
  exit 0
fi
echo "chromium: installing chromium and chromium-driver from the OS packages"
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
echo "chromium: $(chromedriver --version | cut -d' ' -f1-2) ready"
