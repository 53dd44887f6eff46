/*
 * Outgoing e-mail over SMTP (libcurl), for jobs such as password-reset messages. Sending
 * blocks: call it from a job that runs outside a transaction, never from a loop.
 */
#ifndef CAIRN_CORE_MAIL_H
#define CAIRN_CORE_MAIL_H

#include "core/config.h"

/** Reads mail.smtp_url and mail.from; call once at start-up, before any thread sends. */
void cn_mail_init(const cn_config_t *cfg);
void cn_mail_free(void);

/** 1 when mail.smtp_url is set. */
int cn_mail_configured(void);

/**
 * Sends a plain-text message to one address. to and subject must not contain line
 * breaks (header injection). Returns 0, or an error with err naming what failed (the
 * server's URL and credentials are never in it).
 */
int cn_mail_send(const char *to, const char *subject, const char *text, cn_err_t *err);

#endif
