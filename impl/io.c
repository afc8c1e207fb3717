/* io.c: the backend-independent helpers of the I/O interface (formatting, endpoint parsing). */
#include "io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *io_result_name(enum io_result result)
{
    switch (result) {
    case IO_OK: return "ok";
    case IO_ERR_NOT_FOUND: return "not found";
    case IO_ERR_EXISTS: return "exists";
    case IO_ERR_IO: return "i/o error";
    case IO_ERR_NO_SPACE: return "no space";
    case IO_ERR_INVALID: return "invalid";
    case IO_ERR_LIMIT: return "limit";
    case IO_ERR_CLOSED: return "closed";
    case IO_ERR_NOT_EMPTY: return "not empty";
    }
    return "unknown";
}

void io_log(const struct io *io, enum io_log_level level, const char *format, ...)
{
    char message[1024];
    va_list arguments;
    va_start(arguments, format);
    int written = vsnprintf(message, sizeof(message), format, arguments);
    va_end(arguments);
    ASSERT(written >= 0); /* Truncation is acceptable; an encoding error is a bug. */
    io->vtable->log(io->context, level, message);
}

bool io_endpoint_parse(const char *endpoint, char *host, u32 host_size, u16 *port)
{
    ASSERT(host_size > 0);
    const char *colon = strrchr(endpoint, ':');
    if (colon == NULL || colon == endpoint) return false;
    size_t host_length = (size_t)(colon - endpoint);
    if (host_length >= host_size) return false;
    const char *digits = colon + 1;
    if (*digits == '\0' || strlen(digits) > 5) return false;
    u32 value = 0;
    for (const char *c = digits; *c != '\0'; c++) {
        if (*c < '0' || *c > '9') return false;
        value = value * 10 + (u32)(*c - '0');
    }
    if (value > 65535) return false;
    memcpy(host, endpoint, host_length);
    host[host_length] = '\0';
    *port = (u16)value;
    return true;
}
