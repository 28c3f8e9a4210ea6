#!/bin/sh
# CGI wrapper that runs env.php (next to this file) with Debian's php-cgi, for the integration tests.
#
# php-cgi refuses to run unless the web server redirected to it (cgi.force_redirect: REDIRECT_STATUS, which
# Apache sets only for an Action or an ErrorDocument). Here Apache runs this wrapper directly through
# ScriptAliasMatch, exactly like env.cgi, so that PHP sees the very environment the module left for a CGI
# script: the wrapper names the PHP file and says it was redirected. Arguments (Apache passes a query string
# without '=' as argv) are not handed on.
SCRIPT_FILENAME="${SCRIPT_FILENAME%/*}/env.php"
REDIRECT_STATUS=200
export SCRIPT_FILENAME REDIRECT_STATUS
exec /usr/bin/php-cgi
