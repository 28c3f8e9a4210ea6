/* configtest-time checks. Per-directory configs are merged only at request time, so to catch a
 * forgotten directive before start-up we read the parsed configuration tree: for every
 * "AuthType msoauth", each required directive must appear in its section, in an enclosing
 * level (virtual host, server), or in a same-kind section whose path is a prefix of its own.
 * .htaccess files are not visible here; the request-time check covers them. */
#include <string.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "msoauth.h"

static const char *const required[] = {"MSOAuthClientID", "MSOAuthClientSecret",
                                       "MSOAuthCryptoPassphrase", "MSOAuthRedirectURI", NULL};

/* A section's argument without quotes and the closing '>'. */
static const char *section_arg(apr_pool_t *p, const ap_directive_t *d)
{
    char *a = apr_pstrdup(p, d->args ? d->args : "");
    apr_size_t n = strlen(a);

    if (n && a[n - 1] == '>') a[--n] = '\0';
    if (n >= 2 && (a[0] == '"' || a[0] == '\'') && a[n - 1] == a[0]) {
        a[n - 1] = '\0';
        a++;
    }
    return a;
}

static int has_child(const ap_directive_t *first, const char *name)
{
    const ap_directive_t *d;
    for (d = first; d; d = d->next) {
        if (!strcasecmp(d->directive, name)) {
            return 1;
        }
    }
    return 0;
}

static int visible(apr_pool_t *p, const ap_directive_t *authtype, const char *name)
{
    const ap_directive_t *sect = authtype->parent, *level, *d;
    const char *sect_arg = sect ? section_arg(p, sect) : "";

    if (has_child(sect ? sect->first_child : ap_conftree, name)) {
        return 1;
    }
    for (level = sect; level; level = level->parent) {
        for (d = level->parent ? level->parent->first_child : ap_conftree; d; d = d->next) {
            if (d->directive[0] != '<') {
                if (!strcasecmp(d->directive, name)) {
                    return 1;
                }
            }
            else if (d != sect && !strcasecmp(d->directive, sect->directive)
                     && !strncmp(section_arg(p, d), sect_arg, strlen(section_arg(p, d)))
                     && has_child(d->first_child, name)) {
                return 1;
            }
        }
    }
    return 0;
}

static int walk(apr_pool_t *p, server_rec *s, const ap_directive_t *d, int *used)
{
    int bad = 0, i;

    for (; d; d = d->next) {
        if (d->first_child) {
            bad |= walk(p, s, d->first_child, used);
        }
        if (strcasecmp(d->directive, "AuthType") || !d->args
            || strcasecmp(section_arg(p, d), MSOAUTH_AUTH_TYPE)) {
            continue;
        }
        *used = 1;
        for (i = 0; required[i]; i++) {
            if (!visible(p, d, required[i])) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                             "mod_auth_msoauth: %s is required for AuthType msoauth at %s:%d "
                             "(set it in that section or at server level)",
                             required[i], d->filename, d->line_num);
                bad = 1;
            }
        }
    }
    return bad;
}

int msoauth_check_config_tree(apr_pool_t *ptemp, server_rec *s)
{
    int used = 0, bad = walk(ptemp, s, ap_conftree, &used);

    if (used && !msoauth_session_available()) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                     "mod_auth_msoauth: AuthType msoauth needs mod_session and a session store: "
                     "load mod_session and mod_session_cookie (a2enmod session session_cookie)");
        bad = 1;
    }
    return bad ? HTTP_INTERNAL_SERVER_ERROR : OK;
}
