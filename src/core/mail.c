/*
 * Outgoing e-mail (see mail.h): one libcurl SMTP transfer per message. Values in a
 * message come from users (a tenant's name, an address), so nothing is copied into a
 * header or the body without being made plain text first; it must never let a value
 * add a header, a recipient or a line that was not written here.
 */
#include "core/mail.h"
#include "core/schema.h"
#include "lib/formats.h"
#include "lib/utf8.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
    char *url, *from;
    int initialised;
} mailer;

void cn_mail_init(const cn_config_t *cfg)
{
    if (!mailer.initialised) {
        curl_global_init(CURL_GLOBAL_DEFAULT); /* not thread-safe: before any worker runs */
        mailer.initialised = 1;
    }
    free(mailer.url);
    free(mailer.from);
    mailer.url = cn_strdup(cfg->mail_smtp_url);
    mailer.from = cn_strdup(cfg->mail_from);
}

void cn_mail_free(void)
{
    free(mailer.url);
    free(mailer.from);
    mailer.url = mailer.from = NULL;
    if (mailer.initialised)
        curl_global_cleanup();
    mailer.initialised = 0;
}

int cn_mail_configured(void)
{
    return mailer.url != NULL && mailer.url[0] != '\0';
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

/* ---- making values plain text ---- */

/* Length of the well-formed UTF-8 character at s[0..len) (1-4) and its code point; 0 when
 * the byte at s does not start one (malformed, overlong, surrogate, beyond U+10FFFF). */
static int utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
    uint32_t c;
    int n = cn_utf8_decode(s, len, &c);
    if (n < 0)
        return 0;
    *cp = c;
    return n;
}

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

/* Appends s with every refused character replaced; keep_lines lets line breaks and tab
 * through (a body written here), turns every CR, LF and CRLF into one CRLF and breaks
 * lines before SMTP's limit of 998 bytes. */
static void append_clean(cn_buf_t *b, const char *s, int keep_lines)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    size_t col = 0;
    while (*p) {
        uint32_t cp = 0;
        int n = utf8_seq(p, (size_t)(end - p), &cp);
        if (keep_lines && (cp == '\r' || cp == '\n' || col >= 990)) {
            cn_buf_lit(b, "\r\n");
            col = 0;
            if (cp == '\r' || cp == '\n')
                p += cp == '\r' && p[1] == '\n' ? 2 : 1;
            continue;
        }
        if (n == 0 || (cn_text_char_forbidden(cp) && !(keep_lines && cp == '\t'))) {
            cn_buf_lit(b, REPLACEMENT);
            col += 3;
        } else {
            cn_buf_append(b, p, (size_t)n);
            col += (size_t)n;
        }
        p += n ? n : 1;
    }
}

void cn_mail_append_value(cn_buf_t *b, const char *value)
{
    append_clean(b, value, 0);
}

/* 1 when s is printable ASCII only: such a subject needs no encoding. */
static int plain_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* Appends the subject header: as it is when printable ASCII, else as RFC 2047 encoded words
 * of at most 45 bytes of UTF-8 each (72 characters), never splitting a character, on
 * folded lines. A line break can never come through: the text was cleaned first. */
static void append_subject(cn_buf_t *b, const char *subject)
{
    cn_buf_t clean = {0};
    append_clean(&clean, subject, 0);
    const char *s = clean.data ? clean.data : "";
    cn_buf_lit(b, "Subject:");
    if (clean.len < 900 && plain_ascii(s, clean.len)) {
        cn_buf_appendf(b, " %.*s", (int)clean.len, s);
    } else {
        for (size_t at = 0, take = 1; at < clean.len && take > 0; at += take) {
            uint32_t cp;
            int n;
            take = 0;
            while (at + take < clean.len && take + 4 <= 45 &&
                   (n = utf8_seq((const unsigned char *)s + at + take, clean.len - at - take,
                                 &cp)) > 0)
                take += (size_t)n;
            char word[64];
            sodium_bin2base64(word, sizeof(word), (const unsigned char *)s + at, take,
                              sodium_base64_VARIANT_ORIGINAL);
            cn_buf_appendf(b, "%s=?UTF-8?B?%s?=", at ? "\r\n " : " ", word);
        }
    }
    cn_buf_lit(b, "\r\n");
    cn_buf_free(&clean);
}

/* 1 when s can stand between <> in a header: one address, nothing that ends it early. */
static int header_address_ok(const char *s)
{
    size_t len = s ? strlen(s) : 0;
    return len >= 3 && len <= 254 && strchr(s, '@') != NULL &&
           strpbrk(s, " <>,;:\"()[]\\") == NULL && cn_text_line_ok(s, len);
}

int cn_mail_format(cn_buf_t *out, const char *from, const char *to, const char *subject,
                   const char *text, const char *date, const char *id, cn_err_t *err)
{
    /* an address is the only thing copied into a header as it is: it must be one (the
     * sender comes from the configuration, where user@localhost is allowed) */
    if (!header_address_ok(from) || !header_address_ok(to) || !cn_is_email(to, strlen(to)))
        return cn_err_set(err, CN_EINVAL, "refusing a sender or recipient that is not an address");
    cn_buf_appendf(out, "Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\n", date, from, to);
    append_subject(out, subject);
    cn_buf_appendf(out,
                   "Message-ID: <%s@cairn>\r\nMIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n\r\n",
                   id);
    append_clean(out, text, 1);
    return 0;
}

/* ---- sending ---- */

int cn_mail_send(const char *to, const char *subject, const char *text, cn_err_t *err)
{
    if (!cn_mail_configured())
        return cn_err_set(err, CN_EBUSY, "mail.smtp_url is not set: no e-mail can be sent");
    char date[64], id[CN_UUID_LEN + 1];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&now, &tm));
    cn_uuid7(id);
    cn_buf_t msg = {0};
    int frc = cn_mail_format(&msg, mailer.from, to, subject, text, date, id, err);
    if (frc != 0) {
        cn_buf_free(&msg);
        return frc;
    }
    reader_t rd = {msg.data, msg.len, 0};
    CURL *c = curl_easy_init();
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    curl_easy_setopt(c, CURLOPT_URL, mailer.url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mailer.from);
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
