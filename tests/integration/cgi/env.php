<?php
// What a PHP application behind mod_auth_msoauth receives, as JSON (run by php.cgi through php-cgi).
//   vars:    REMOTE_USER, AUTH_TYPE, REQUEST_METHOD, SCRIPT_NAME, every MSOAUTH_*, HTTP_* and REDIRECT_* entry
//            of $_SERVER (REDIRECT_*: Apache's renamed variables when PHP runs through an Action),
//            base64-encoded: header values may be Latin-1 or any bytes, which JSON cannot carry as they are
//   text:    the same values as text (invalid UTF-8 shown as U+FFFD), for a person reading the page
//   cookies: $_COOKIE, as PHP parsed HTTP_COOKIE
$picked = [];
foreach ($_SERVER as $name => $value) {
    if (!is_string($value)) {
        continue;
    }
    if (in_array($name, ['REMOTE_USER', 'AUTH_TYPE', 'REQUEST_METHOD', 'SCRIPT_NAME', 'PHP_AUTH_USER'], true)
        || strncmp($name, 'MSOAUTH_', 8) === 0 || strncmp($name, 'HTTP_', 5) === 0
        || strncmp($name, 'REDIRECT_', 9) === 0) {
        $picked[$name] = $value;
    }
}
ksort($picked);
header('Content-Type: application/json; charset=utf-8');
header('Cache-Control: no-store');
echo json_encode(['sapi' => PHP_SAPI, 'vars' => array_map('base64_encode', $picked), 'text' => $picked,
                  'cookies' => $_COOKIE],
                 JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE);
