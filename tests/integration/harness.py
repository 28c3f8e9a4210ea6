"""Start and stop the pieces of an integration run: the test PKI, the mock Microsoft, and a real Apache httpd.

Shared by conftest.py (the test suite) and demo/demo.py (`make demo`). Only the standard library, requests and
python3-cryptography (through pki.py) are used.

Apache runs as root here and its children switch to www-data: every directory and file they read is made
world-readable (0755 / 0644).
"""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import pki  # noqa: E402

PYTHON = "/usr/bin/python3"
APACHE = "/usr/sbin/apache2"
MODULES_DIR = "/usr/lib/apache2/modules"
DEFAULT_MODULE = os.path.join(REPO, "build", "mod_auth_msoauth.so")
ENV_CGI = os.path.join(HERE, "cgi", "env.cgi")
# The PHP application: php.cgi runs env.php with Debian's php-cgi (see the comment in php.cgi).
PHP_CGI = os.path.join(HERE, "cgi", "php.cgi")
PHP_FILES = [PHP_CGI, os.path.join(HERE, "cgi", "env.php")]
PHP_BINARY = "/usr/bin/php-cgi"

# The httpd modules loaded for every run, in load order (mpm first).
BASE_MODULES = ["mpm_event", "authz_core", "authn_core", "authz_user", "authz_host", "mime", "alias", "cgid",
                "env", "log_config", "headers", "setenvif", "dir", "ssl", "socache_shmcb", "session",
                "session_cookie", "session_crypto", "proxy", "proxy_http"]


_BUILTIN = None


def builtin_modules():
    """Modules compiled into /usr/sbin/apache2 (Debian builds in log_config, unixd, ...): never LoadModule those."""
    global _BUILTIN
    if _BUILTIN is None:
        out = subprocess.run([APACHE, "-l"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
        _BUILTIN = set(re.findall(r"mod_(\w+)\.c", out))
    return _BUILTIN


def module_path():
    """The module under test: $MSOAUTH_MODULE, else build/mod_auth_msoauth.so of this repository."""
    return os.environ.get("MSOAUTH_MODULE") or DEFAULT_MODULE


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_workdir(prefix="msoauth-"):
    """A fresh temporary directory readable by Apache's children."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


def write_file(path, text, mode=0o644):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def http_session(ca=None):
    """A requests session that trusts only the test CA and ignores the environment (proxies, REQUESTS_CA_BUNDLE)."""
    s = requests.Session()
    s.trust_env = False
    s.verify = ca if ca else True
    return s


def wait_for_port(port, timeout=10.0, host="127.0.0.1"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------------------------- PKI

class PKI:
    """ca.pem, server.pem and server.key in a directory of their own."""

    def __init__(self, directory):
        paths = pki.make_pki(directory)
        self.dir = directory
        self.ca, self.cert, self.key = paths["ca"], paths["cert"], paths["key"]


# ---------------------------------------------------------------------------------------------- mock

class MockMS:
    """mockms.py in a subprocess, listening on one or more ports (each a separate authority for the module).
    pki_=None: plain http (the demo)."""

    def __init__(self, pki_, ports=1, host="127.0.0.1", log_path=None, verbose=False, fixed_port=0):
        self.pki = pki_
        self.fixed_port = fixed_port
        self.nports = ports
        self.host = host
        self.log_path = log_path
        self.verbose = verbose
        self.proc = None
        self.bases = []
        self.http = http_session(pki_.ca if pki_ else None)

    @property
    def base(self):
        return self.bases[0]

    def start(self, timeout=20.0):
        cmd = [PYTHON, os.path.join(HERE, "mockms.py"), "--host", self.host]
        cmd += ["--cert", self.pki.cert, "--key", self.pki.key] if self.pki else ["--http"]
        for i in range(self.nports):
            cmd += ["--port", str(self.fixed_port if i == 0 else 0)]
        if self.verbose:
            cmd.append("--verbose")
        self._log = open(self.log_path, "ab") if self.log_path else None
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log or None)
        deadline = time.time() + timeout
        line = b""
        while time.time() < deadline and not line.endswith(b"\n"):
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        if not line.startswith(b"ready "):
            self.stop()
            raise RuntimeError("mock Microsoft did not start: %r" % line)
        self.bases = line.decode().split()[1:]
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        self.proc = None

    # -- test control
    def _post(self, path, json=None):
        r = self.http.post(self.base + path, json=json, timeout=10)
        r.raise_for_status()
        return r.json()

    def configure(self, **settings):
        """Merge misbehaviour settings (see mockms.MISBEHAVIOUR) into the mock's config."""
        return self._post("/_mock/config", settings)

    def reset(self):
        return self._post("/_mock/reset")

    def stats(self):
        return self.http.get(self.base + "/_mock/stats", timeout=10).json()

    def reset_stats(self):
        return self._post("/_mock/stats/reset")

    def issued(self):
        """[{code, client_secret, code_verifier, access_token, id_token, user}] since the last stats reset."""
        return self.http.get(self.base + "/_mock/issued", timeout=10).json()

    def requests(self, endpoint=None):
        reqs = self.http.get(self.base + "/_mock/requests", timeout=10).json()
        return [r for r in reqs if endpoint is None or r["endpoint"] == endpoint]


# ---------------------------------------------------------------------------------------------- Apache config

def render_directives(directives, indent="    "):
    """Directives as text. directives: a list of lines, or a dict {name: value}, where a value of None omits
    the directive, a list repeats it, and True writes the name alone."""
    if isinstance(directives, str):
        return "\n".join(indent + line for line in directives.splitlines())
    if isinstance(directives, dict):
        lines = []
        for name, value in directives.items():
            if value is None:
                continue
            for v in value if isinstance(value, (list, tuple)) else [value]:
                lines.append(name if v is True else "%s %s" % (name, v))
    else:
        lines = list(directives)
    return "\n".join(indent + line for line in lines)


def location_script_alias(path, script):
    """ScriptAliasMatch sending path, path/anything and path?query to the script."""
    if path == "/":
        return 'ScriptAliasMatch "^/" "%s"' % script
    return 'ScriptAliasMatch "^%s(/.*)?$" "%s"' % (re.escape(path), script)


class VHost:
    """One <VirtualHost 127.0.0.1:port>: TLS (with the test cert) or plain http, its own directives and
    {location path: directives}, written in that order (Apache merges <Location> sections in file order, so a
    nested path comes after its parent). Every location is mapped to the env CGI, unless scripts
    ({path: script}) names another script for it, or None: no script (a ProxyPass location). scripts may also map
    paths that are no location of their own. The longest path is matched first."""

    def __init__(self, port, tls=True, directives=None, locations=None, scripts=None):
        self.port = port
        self.tls = tls
        self.directives = directives or {}
        self.locations = dict(locations or {})
        self.scripts = dict(scripts or {})

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)


def apache_config(workdir, vhosts, global_directives=None, module=None, modules=None, pki_=None,
                  cgi_script=None, log_level=None):
    """The text of a complete httpd.conf that keeps everything (pid, logs, sockets, mutexes) in workdir.

    module: path of mod_auth_msoauth.so (None: not loaded); modules: httpd modules to load (BASE_MODULES).
    global_directives go in the main server context, after the modules (e.g. the MSOAuth* defaults)."""
    modules = BASE_MODULES if modules is None else modules
    if log_level is None:
        log_level = "warn auth_msoauth:debug" if module else "warn"
    cgi_script = cgi_script or os.path.join(workdir, "cgi", "env.cgi")
    out = ["# generated by tests/integration/harness.py",
           'ServerRoot "%s"' % workdir,
           'DefaultRuntimeDir "%s"' % workdir,
           'PidFile "%s/httpd.pid"' % workdir,
           'Mutex file:%s default' % workdir,
           "ServerName 127.0.0.1",
           "User www-data",
           "Group www-data",
           'ErrorLog "%s/error.log"' % workdir,
           "LogLevel %s" % log_level,
           "Timeout 30",
           "KeepAlive On"]
    for m in modules:
        if m in builtin_modules():
            continue
        out.append("LoadModule %s_module %s/mod_%s.so" % (m, MODULES_DIR, m))
    if module:
        out.append('LoadModule auth_msoauth_module "%s"' % module)
    if "mpm_event" in modules:
        out += ["StartServers 1", "ServerLimit 1", "ThreadsPerChild 25", "ThreadLimit 25",
                "MaxRequestWorkers 25", "MinSpareThreads 1", "MaxSpareThreads 25", "MaxConnectionsPerChild 0"]
    if "cgid" in modules:
        out.append('ScriptSock "%s/cgid.sock"' % workdir)
    if "mime" in modules:
        out.append("TypesConfig /etc/mime.types")
    if "log_config" in modules:
        out += ['LogFormat "%h %l %u %t \\"%r\\" %>s %b %D" timed',
                'CustomLog "%s/access.log" timed' % workdir]
    if "ssl" in modules:
        out += ['SSLSessionCache "shmcb:%s/ssl_scache(512000)"' % workdir if "socache_shmcb" in modules else "",
                "SSLRandomSeed startup builtin"]
    out += ["<Directory />", "    AllowOverride None", "    Require all denied", "</Directory>",
            '<Directory "%s">' % os.path.dirname(cgi_script), "    Require all granted", "</Directory>"]
    if global_directives:
        out.append(render_directives(global_directives, indent=""))
    for vh in vhosts:
        out.append("Listen 127.0.0.1:%d %s" % (vh.port, vh.scheme))
        out.append("<VirtualHost 127.0.0.1:%d>" % vh.port)
        out.append("    ServerName 127.0.0.1:%d" % vh.port)
        if vh.tls:
            out += ["    SSLEngine on",
                    '    SSLCertificateFile "%s"' % pki_.cert,
                    '    SSLCertificateKeyFile "%s"' % pki_.key]
        if vh.directives:
            out.append(render_directives(vh.directives))
        aliases = dict.fromkeys(vh.locations, cgi_script)
        aliases.update(vh.scripts)
        # mod_alias takes the first match in file order: the longest (most specific) path first.
        for path in sorted(aliases, key=len, reverse=True):
            if aliases[path]:
                out.append("    " + location_script_alias(path, aliases[path]))
        for path, directives in vh.locations.items():
            out.append('    <Location "%s">' % path)
            out.append(render_directives(directives, indent="        "))
            out.append("    </Location>")
        out.append("</VirtualHost>")
    return "\n".join(line for line in out if line != "") + "\n"


def install_cgi(workdir, source=ENV_CGI):
    """Copy the CGI script (or a list of files) into workdir/cgi (0755), where Apache's children can run it;
    returns the path of the (first) copy."""
    d = os.path.join(workdir, "cgi")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    paths = []
    for src in [source] if isinstance(source, str) else source:
        dest = os.path.join(d, os.path.basename(src))
        shutil.copyfile(src, dest)
        os.chmod(dest, 0o755 if os.access(src, os.X_OK) else 0o644)
        paths.append(dest)
    return paths[0]


def configtest(conf_text, workdir=None):
    """Write conf_text to a file and run `apache2 -t -f` on it: (exit code, stdout+stderr)."""
    own = workdir is None
    workdir = workdir or make_workdir("msoauth-t-")
    try:
        path = write_file(os.path.join(workdir, "configtest-%d.conf" % time.monotonic_ns()), conf_text)
        p = subprocess.run([APACHE, "-t", "-f", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- Apache process

class Apache:
    """A real httpd started from a config written into workdir."""

    def __init__(self, workdir, conf_text, ports):
        self.workdir = workdir
        self.conf = write_file(os.path.join(workdir, "httpd.conf"), conf_text)
        self.ports = list(ports)
        self.pidfile = os.path.join(workdir, "httpd.pid")
        self.error_log_path = os.path.join(workdir, "error.log")
        self.pid = None
        self.start_output = ""

    def _run(self, *args):
        return subprocess.run([APACHE, "-f", self.conf] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)

    def start(self, timeout=15.0):
        p = self._run("-k", "start")
        self.start_output = p.stdout.decode("utf-8", "replace")
        if p.returncode != 0:
            raise RuntimeError("apache2 -k start failed (exit %d):\n%s\n%s"
                               % (p.returncode, p.stdout.decode("utf-8", "replace"), self.error_log()))
        deadline = time.time() + timeout
        while time.time() < deadline and self.pid is None:
            try:
                with open(self.pidfile) as f:
                    self.pid = int(f.read().strip() or 0) or None
            except (OSError, ValueError):
                time.sleep(0.05)
        for port in self.ports:
            if self.pid is None or not wait_for_port(port, max(0.1, deadline - time.time())):
                log = self.error_log()
                self.stop()
                raise RuntimeError("apache2 did not come up on port %d; error log:\n%s" % (port, log))
        return self

    def stop(self, timeout=10.0):
        if self.pid is None:
            try:
                with open(self.pidfile) as f:
                    self.pid = int(f.read().strip())
            except (OSError, ValueError):
                return
        self._run("-k", "stop")
        deadline = time.time() + timeout
        while time.time() < deadline and _alive(self.pid):
            time.sleep(0.05)
        if _alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def error_log(self, since=0):
        try:
            with open(self.error_log_path, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_mark(self):
        """A position in the error log: pass it to error_log(since=...) to read what came after."""
        try:
            return os.path.getsize(self.error_log_path)
        except OSError:
            return 0


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie of ours counts as gone.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
