/* Outgoing e-mail (see mail.h): one libcurl SMTP transfer per message. */
#include "core/mail.h"
#include "core/json.h"
#include "lib/formats.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
    char *url, *from;
    int initialised;
} M;

void cn_mail_init(const cn_config_t *cfg)
{
    if (!M.initialised) {
        curl_global_init(CURL_GLOBAL_DEFAULT); /* not thread-safe: before any worker runs */
        M.initialised = 1;
    }
    free(M.url);
    free(M.from);
    M.url = cn_strdup(cfg->mail_smtp_url);
    M.from = cn_strdup(cfg->mail_from);
}

void cn_mail_free(void)
{
    free(M.url);
    free(M.from);
    M.url = M.from = NULL;
    if (M.initialised)
        curl_global_cleanup();
    M.initialised = 0;
}

int cn_mail_configured(void)
{
    return M.url != NULL && M.url[0] != '\0';
}

typedef struct {
    const char *data;
    size_t len, off;
} reader_t;

static size_t read_message(char *buf, size_t size, size_t n, void *ud)
{
    reader_t *r = ud;
    size_t take = r->len - r->off < size * n ? r->len - r->off : size * n;
    memcpy(buf, r->data + r->off, take);
    r->off += take;
    return take;
}

static int one_line(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

int cn_mail_send(const char *to, const char *subject, const char *text, cn_err_t *err)
{
    if (!cn_mail_configured())
        return cn_err_set(err, CN_EBUSY, "mail.smtp_url is not set: no e-mail can be sent");
    if (!one_line(to) || !one_line(subject) || strchr(to, '@') == NULL)
        return cn_err_set(err, CN_EINVAL, "refusing a recipient or subject with line breaks");
    char date[64], id[CN_UUID_LEN + 1];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&now, &tm));
    cn_uuid7(id);
    cn_buf_t msg = {0};
    cn_buf_appendf(&msg,
                   "Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@cairn>\r\n"
                   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
                   date, M.from, to, subject, id, text);
    reader_t rd = {msg.data, msg.len, 0};
    CURL *c = curl_easy_init();
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    curl_easy_setopt(c, CURLOPT_URL, M.url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, M.from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(c, CURLOPT_READDATA, &rd);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    cn_buf_free(&msg);
    if (rc != CURLE_OK) /* curl's message names the step, not the URL's credentials */
        return cn_err_set(err, CN_EBUSY, "sending mail failed: %s", curl_easy_strerror(rc));
    return 0;
}
