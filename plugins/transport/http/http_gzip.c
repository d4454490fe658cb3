/*
 * http_gzip.c
 *     gzip (RFC 1952) for the http transport, with zlib: compressing a
 *     batch's two parts (header line and data) into one body, and inflating
 *     a received body incrementally, as it arrives, with a hard limit on the
 *     inflated size so that a small "zip bomb" cannot take the server's
 *     memory.
 */
#include "tp_autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "http.h"

/* zlib's windowBits for a gzip wrapper (not zlib's, not raw deflate). */
#define GZIP_WINDOW_BITS (15 + 16)

/* Largest chunk handed to zlib at once (its counters are uInt). */
#define ZCHUNK ((size_t) 1 << 30)

/* See http.h. */
bool
http_gzip(const char *a, size_t alen, const char *b, size_t blen, int level,
		  char **out, size_t *out_len)
{
	z_stream	zs;
	const char *parts[2] = {a, b};
	const size_t lens[2] = {alen, blen};
	char	   *buf;
	size_t		cap;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, level, Z_DEFLATED, GZIP_WINDOW_BITS, 8,
					 Z_DEFAULT_STRATEGY) != Z_OK)
		return false;
	cap = deflateBound(&zs, (uLong) (alen + blen)) + 64;
	buf = malloc(cap);
	if (buf == NULL)
	{
		deflateEnd(&zs);
		return false;
	}
	zs.next_out = (Bytef *) buf;
	zs.avail_out = (uInt) (cap > ZCHUNK ? ZCHUNK : cap);
	for (int i = 0; i < 2; i++)
	{
		const char *p = parts[i];
		size_t		left = lens[i];

		do
		{
			size_t		n = left > ZCHUNK ? ZCHUNK : left;
			int			flush = (i == 1 && n == left) ? Z_FINISH : Z_NO_FLUSH;
			int			rc;

			zs.next_in = (Bytef *) p;
			zs.avail_in = (uInt) n;
			do
			{
				size_t		produced = (size_t) ((char *) zs.next_out - buf);

				if (zs.avail_out == 0)
				{
					size_t		room = cap - produced;

					if (room == 0)
					{
						deflateEnd(&zs);
						free(buf);
						return false;
					}
					zs.avail_out = (uInt) (room > ZCHUNK ? ZCHUNK : room);
				}
				rc = deflate(&zs, flush);
				if (rc == Z_STREAM_ERROR)
				{
					deflateEnd(&zs);
					free(buf);
					return false;
				}
			} while (zs.avail_in > 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
			p += n;
			left -= n;
		} while (left > 0);
	}
	*out_len = (size_t) ((char *) zs.next_out - buf);
	*out = buf;
	deflateEnd(&zs);
	return true;
}

struct http_gunzip
{
	z_stream	zs;
	char	   *out;			/* inflated so far */
	size_t		len;
	size_t		cap;
	size_t		limit;			/* largest inflated size allowed */
	bool		ended;			/* the gzip stream ended */
	bool		trailing;		/* bytes came after its end */
};

/* See http.h. */
http_gunzip *
http_gunzip_new(size_t limit)
{
	http_gunzip *gz = calloc(1, sizeof(http_gunzip));

	if (gz == NULL)
		return NULL;
	if (inflateInit2(&gz->zs, GZIP_WINDOW_BITS) != Z_OK)
	{
		free(gz);
		return NULL;
	}
	gz->limit = limit;
	return gz;
}

/*
 * Make room for more output: double the buffer, but never beyond limit + 1
 * (one byte past the limit tells that it was exceeded). False when out of
 * memory or already at that size.
 */
static bool
gunzip_grow(http_gunzip *gz)
{
	size_t		max = gz->limit + 1;
	size_t		new_cap = gz->cap == 0 ? 65536 : gz->cap * 2;
	char	   *p;

	if (new_cap > max)
		new_cap = max;
	if (new_cap <= gz->cap)
		return false;
	p = realloc(gz->out, new_cap + 1);	/* + 1: room for a NUL */
	if (p == NULL)
		return false;
	gz->out = p;
	gz->cap = new_cap;
	return true;
}

/* See http.h. */
http_gunzip_result
http_gunzip_feed(http_gunzip *gz, const char *in, size_t len)
{
	while (len > 0)
	{
		size_t		n = len > ZCHUNK ? ZCHUNK : len;

		gz->zs.next_in = (Bytef *) in;
		gz->zs.avail_in = (uInt) n;
		for (;;)
		{
			int			rc;
			size_t		room;

			if (gz->ended)
			{
				if (gz->zs.avail_in == 0)
					break;
				gz->trailing = true;
				return HTTP_GUNZIP_BAD;
			}
			if (gz->len == gz->cap && !gunzip_grow(gz))
				return gz->cap > gz->limit ? HTTP_GUNZIP_TOO_BIG : HTTP_GUNZIP_BAD;
			room = gz->cap - gz->len;
			if (room > ZCHUNK)
				room = ZCHUNK;
			gz->zs.next_out = (Bytef *) gz->out + gz->len;
			gz->zs.avail_out = (uInt) room;
			rc = inflate(&gz->zs, Z_NO_FLUSH);
			gz->len += room - gz->zs.avail_out;
			if (gz->len > gz->limit)
				return HTTP_GUNZIP_TOO_BIG;
			if (rc == Z_STREAM_END)
				gz->ended = true;
			else if (rc == Z_BUF_ERROR)
				break;			/* no progress: it needs more input */
			else if (rc != Z_OK)
				return HTTP_GUNZIP_BAD;
			else if (gz->zs.avail_in == 0 && gz->zs.avail_out > 0)
				break;			/* all input taken, all output flushed */
		}
		in += n;
		len -= n;
	}
	return HTTP_GUNZIP_OK;
}

/* See http.h. */
bool
http_gunzip_finish(http_gunzip *gz, const char **out, size_t *out_len)
{
	if (!gz->ended || gz->trailing)
		return false;
	if (gz->out == NULL && !gunzip_grow(gz))
		return false;
	gz->out[gz->len] = '\0';
	*out = gz->out;
	*out_len = gz->len;
	return true;
}

/* See http.h. */
void
http_gunzip_free(http_gunzip *gz)
{
	if (gz == NULL)
		return;
	inflateEnd(&gz->zs);
	free(gz->out);
	free(gz);
}
