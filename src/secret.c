/* Reading secrets from files at start-up. */
#include <string.h>

#include <apr_strings.h>
#include <apr_file_io.h>

#include "secret.h"

int msoauth_secret_is_file(const char *arg, const char **path)
{
    if (!strncmp(arg, "file:", 5)) {
        *path = arg + 5;
        return 1;
    }
    return 0;
}

apr_status_t msoauth_secret_read_file(apr_pool_t *p, const char *path, const char **out,
                                      const char **err)
{
    apr_file_t *f;
    char *buf = apr_palloc(p, MSOAUTH_SECRET_FILE_MAX + 1);
    apr_size_t n = 0;
    apr_status_t rv;
    char msg[120];

    *out = NULL;
    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "cannot read %s: %s", path, apr_strerror(rv, msg, sizeof(msg)));
        return rv;
    }
    rv = apr_file_read_full(f, buf, MSOAUTH_SECRET_FILE_MAX + 1, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        *err = apr_psprintf(p, "cannot read %s: %s", path, apr_strerror(rv, msg, sizeof(msg)));
        return rv;
    }
    if (n > MSOAUTH_SECRET_FILE_MAX) {
        *err = apr_psprintf(p, "%s is larger than %d bytes", path, MSOAUTH_SECRET_FILE_MAX);
        return APR_EINVAL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }
    buf[n] = '\0';
    if (n == 0 || strlen(buf) != n) {
        *err = apr_psprintf(p, "%s is empty or holds a NUL byte", path);
        return APR_EINVAL;
    }
    *out = buf;
    return APR_SUCCESS;
}
