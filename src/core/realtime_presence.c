/*
 * Presence (see realtime.h): how many realtime connections each user of each tenant has
 * open, across every loop, and GET /api/v1/realtime/presence. A list under one mutex:
 * connections open and close far less often than events are delivered.
 */
#include "core/realtime_int.h"

#include <stdlib.h>
#include <string.h>

void cn__rt_presence_add(const who_t *p, int delta)
{
    char key[160];
    snprintf(key, sizeof(key), "%s\n%s", p->tenant_id, p->subject);
    pthread_mutex_lock(&cn__realtime.presence_lock);
    struct presence **pp = &cn__realtime.presence;
    while (*pp != NULL && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    if (*pp == NULL && delta > 0) {
        size_t n = strlen(key) + 1;
        *pp = cn_calloc(1, sizeof(**pp) + n);
        memcpy((*pp)->key, key, n);
    }
    if (*pp != NULL && ((*pp)->count += delta) <= 0) {
        struct presence *gone = *pp;
        *pp = gone->next;
        free(gone);
    }
    pthread_mutex_unlock(&cn__realtime.presence_lock);
}

int cn_realtime_presence(const char *tenant_id, const char *subject)
{
    char key[160];
    snprintf(key, sizeof(key), "%s\n%s", tenant_id, subject);
    int n = 0;
    pthread_mutex_lock(&cn__realtime.presence_lock);
    for (struct presence *p = cn__realtime.presence; p != NULL; p = p->next)
        if (strcmp(p->key, key) == 0)
            n = p->count;
    pthread_mutex_unlock(&cn__realtime.presence_lock);
    return n;
}

/* ---- presence route ---- */

int cn__rt_get_presence(cn_req_t *r)
{
    cn_jw_t w;
    cn_jw_init(&w, cn_reply_buffer(r));
    cn_jw_object(&w);
    cn_jw_key(&w, "items");
    cn_jw_array(&w);
    const char *tenant = cn_req_tenant(r);
    size_t tl = strlen(tenant);
    pthread_mutex_lock(&cn__realtime.presence_lock);
    for (struct presence *p = cn__realtime.presence; p != NULL; p = p->next) {
        if (strncmp(p->key, tenant, tl) != 0 || p->key[tl] != '\n')
            continue;
        cn_jw_object(&w);
        cn_jw_key(&w, "subject");
        cn_jw_str(&w, p->key + tl + 1, strlen(p->key + tl + 1));
        cn_jw_key(&w, "connections");
        cn_jw_int(&w, p->count);
        cn_jw_end(&w);
    }
    pthread_mutex_unlock(&cn__realtime.presence_lock);
    cn_jw_end(&w);
    cn_jw_end(&w);
    return cn_reply_json_buf(r, 200);
}
