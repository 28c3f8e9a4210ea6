/* Secrets given as a value or as file:/path. Pure. */
#ifndef MSOAUTH_SECRET_H
#define MSOAUTH_SECRET_H

#include <apr_pools.h>
#include <apr_errno.h>

#define MSOAUTH_SECRET_FILE_MAX 4096

/* 1 when arg is "file:<path>"; *path then points at the path. */
int msoauth_secret_is_file(const char *arg, const char **path);

/* Reads the file (at most MSOAUTH_SECRET_FILE_MAX bytes), trailing CR/LF trimmed; refuses an
 * empty secret. */
apr_status_t msoauth_secret_read_file(apr_pool_t *p, const char *path, const char **out,
                                      const char **err);

#endif
