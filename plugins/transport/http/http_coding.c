/*
 * http_coding.c
 *     The content codings of the http transport's batch bodies: gzip
 *     (RFC 1952, zlib) and zstd (RFC 8878, libzstd). Compressing a batch's
 *     two parts (header line and data) into one body, with a coder kept by
 *     the caller so that its state and output buffer are reused from batch
 *     to batch; and decoding a received body incrementally, as it arrives,
 *     with a hard limit on the decoded size so that a small "zip bomb"
 *     cannot take the server's memory. A decoder is reused too (reset for
 *     each body): its output buffer and its codec state stay allocated and
 *     touched, which spares the page faults of fresh megabytes per batch.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "http.h"

/* zlib's windowBits for a gzip wrapper (not zlib's, not raw deflate). */
#define GZIP_WINDOW_BITS (15 + 16)

/* Largest chunk handed to zlib at once (its counters are uInt). */
#define ZCHUNK ((size_t) 1 << 30)

/*
 * The largest zstd window a decoder accepts (2^23, 8 MiB: what RFC 8878
 * asks of a decoder of Content-Encoding: zstd). teleport's encoder uses
 * far less at its levels.
 */
#define ZSTD_WINDOW_LOG_MAX 23

/* See http.h. */
const char *
http_coding_name(http_coding coding)
{
	switch (coding)
	{
		case HTTP_CODING_GZIP:
			return "gzip";
		case HTTP_CODING_ZSTD:
			return "zstd";
		case HTTP_CODING_IDENTITY:
			break;
	}
	return "identity";
}

/*
 * Grow *buf (of *cap bytes) to at least need bytes; its content is not
 * kept. False when out of memory.
 */
static bool
reserve(char **buf, size_t *cap, size_t need)
{
	char	   *p;

	if (*cap >= need)
		return true;
	p = malloc(need);
	if (p == NULL)
		return false;
	free(*buf);
	*buf = p;
	*cap = need;
	return true;
}

struct http_encoder
{
	z_stream	zs;
	bool		zs_ready;		/* deflateInit2 done (at zs_level) */
	int			zs_level;
	ZSTD_CCtx  *zc;
	char	   *buf;			/* output, kept between bodies */
	size_t		cap;
};

/* See http.h. */
http_encoder *
http_encoder_new(void)
{
	return calloc(1, sizeof(http_encoder));
}

/* gzip a and b into enc->buf; see http_encode. */
static bool
encode_gzip(http_encoder *enc, int level, const char *a, size_t alen,
			const char *b, size_t blen, size_t *out_len)
{
	z_stream   *zs = &enc->zs;
	const char *parts[2] = {a, b};
	const size_t lens[2] = {alen, blen};
	size_t		cap;

	if (enc->zs_ready && enc->zs_level != level)
	{
		deflateEnd(zs);
		enc->zs_ready = false;
	}
	if (!enc->zs_ready)
	{
		memset(zs, 0, sizeof(*zs));
		if (deflateInit2(zs, level, Z_DEFLATED, GZIP_WINDOW_BITS, 8,
						 Z_DEFAULT_STRATEGY) != Z_OK)
			return false;
		enc->zs_ready = true;
		enc->zs_level = level;
	}
	else if (deflateReset(zs) != Z_OK)
		return false;
	if (!reserve(&enc->buf, &enc->cap, deflateBound(zs, (uLong) (alen + blen)) + 64))
		return false;
	cap = enc->cap;
	zs->next_out = (Bytef *) enc->buf;
	zs->avail_out = (uInt) (cap > ZCHUNK ? ZCHUNK : cap);
	for (int i = 0; i < 2; i++)
	{
		const char *p = parts[i];
		size_t		left = lens[i];

		do
		{
			size_t		n = left > ZCHUNK ? ZCHUNK : left;
			int			flush = (i == 1 && n == left) ? Z_FINISH : Z_NO_FLUSH;
			int			rc;

			zs->next_in = (Bytef *) p;
			zs->avail_in = (uInt) n;
			do
			{
				size_t		produced = (size_t) ((char *) zs->next_out - enc->buf);

				if (zs->avail_out == 0)
				{
					size_t		room = cap - produced;

					if (room == 0)
						return false;
					zs->avail_out = (uInt) (room > ZCHUNK ? ZCHUNK : room);
				}
				rc = deflate(zs, flush);
				if (rc == Z_STREAM_ERROR)
					return false;
			} while (zs->avail_in > 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
			p += n;
			left -= n;
		} while (left > 0);
	}
	*out_len = (size_t) ((char *) zs->next_out - enc->buf);
	return true;
}

/* zstd a and b (one frame, its size in its header) into enc->buf. */
static bool
encode_zstd(http_encoder *enc, int level, const char *a, size_t alen,
			const char *b, size_t blen, size_t *out_len)
{
	ZSTD_outBuffer out;
	ZSTD_inBuffer in;
	size_t		rc;

	if (enc->zc == NULL && (enc->zc = ZSTD_createCCtx()) == NULL)
		return false;
	ZSTD_CCtx_reset(enc->zc, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(enc->zc, ZSTD_c_compressionLevel, level)) ||
		ZSTD_isError(ZSTD_CCtx_setParameter(enc->zc, ZSTD_c_checksumFlag, 1)) ||
		ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(enc->zc, (unsigned long long) (alen + blen))))
		return false;
	if (!reserve(&enc->buf, &enc->cap, ZSTD_compressBound(alen + blen)))
		return false;
	out.dst = enc->buf;
	out.size = enc->cap;
	out.pos = 0;
	in.src = a;
	in.size = alen;
	in.pos = 0;
	while (in.pos < in.size)
	{
		rc = ZSTD_compressStream2(enc->zc, &out, &in, ZSTD_e_continue);
		if (ZSTD_isError(rc))
			return false;
	}
	in.src = b;
	in.size = blen;
	in.pos = 0;
	do
	{
		rc = ZSTD_compressStream2(enc->zc, &out, &in, ZSTD_e_end);
		if (ZSTD_isError(rc) || (rc > 0 && out.pos == out.size))
			return false;
	} while (rc > 0);
	*out_len = out.pos;
	return true;
}

/* See http.h. */
bool
http_encode(http_encoder *enc, http_coding coding, int level,
			const char *a, size_t alen, const char *b, size_t blen,
			const char **out, size_t *out_len)
{
	bool		ok = false;

	if (coding == HTTP_CODING_GZIP)
		ok = encode_gzip(enc, level, a, alen, b, blen, out_len);
	else if (coding == HTTP_CODING_ZSTD)
		ok = encode_zstd(enc, level, a, alen, b, blen, out_len);
	if (ok)
		*out = enc->buf;
	return ok;
}

/* See http.h. */
void
http_encoder_free(http_encoder *enc)
{
	if (enc == NULL)
		return;
	if (enc->zs_ready)
		deflateEnd(&enc->zs);
	ZSTD_freeCCtx(enc->zc);
	free(enc->buf);
	free(enc);
}

struct http_decoder
{
	http_coding coding;			/* of the body being decoded */
	z_stream	zs;
	bool		zs_ready;		/* inflateInit2 done */
	ZSTD_DCtx  *zd;
	char	   *out;			/* decoded bytes, kept between bodies */
	size_t		len;
	size_t		cap;
	size_t		limit;			/* largest decoded size allowed */
	bool		ended;			/* the compressed stream ended */
	bool		trailing;		/* bytes came after its end */
	char		reason[128];	/* why a zstd body is bad */
};

/* See http.h. */
http_decoder *
http_decoder_new(void)
{
	return calloc(1, sizeof(http_decoder));
}

/* See http.h. */
bool
http_decoder_start(http_decoder *d, http_coding coding, size_t limit,
				   size_t expect)
{
	d->coding = coding;
	d->len = 0;
	d->limit = limit;
	d->ended = false;
	d->trailing = false;
	d->reason[0] = '\0';
	if (coding == HTTP_CODING_GZIP)
	{
		if (!d->zs_ready)
		{
			memset(&d->zs, 0, sizeof(d->zs));
			if (inflateInit2(&d->zs, GZIP_WINDOW_BITS) != Z_OK)
				return false;
			d->zs_ready = true;
		}
		else if (inflateReset(&d->zs) != Z_OK)
			return false;
	}
	else if (coding == HTTP_CODING_ZSTD)
	{
		if (d->zd == NULL)
		{
			d->zd = ZSTD_createDCtx();
			if (d->zd == NULL)
				return false;
		}
		ZSTD_DCtx_reset(d->zd, ZSTD_reset_session_and_parameters);
		if (ZSTD_isError(ZSTD_DCtx_setParameter(d->zd, ZSTD_d_windowLogMax,
												ZSTD_WINDOW_LOG_MAX)))
			return false;
	}
	/* an identity body's size is known: room for it (and a NUL) at once */
	if (coding == HTTP_CODING_IDENTITY && expect <= limit &&
		d->cap < expect + 1)
	{
		char	   *p = realloc(d->out, expect + 1);

		if (p == NULL)
			return false;
		d->out = p;
		d->cap = expect;
	}
	return true;
}

/*
 * Make room for more output: double the buffer, but never beyond limit + 1
 * (one byte past the limit tells that it was exceeded). False when out of
 * memory or already at that size.
 */
static bool
decoder_grow(http_decoder *d)
{
	size_t		max = d->limit + 1;
	size_t		new_cap = d->cap == 0 ? 65536 : d->cap * 2;
	char	   *p;

	if (new_cap > max)
		new_cap = max;
	if (new_cap <= d->cap)
		return false;
	p = realloc(d->out, new_cap + 1);	/* + 1: room for a NUL */
	if (p == NULL)
		return false;
	d->out = p;
	d->cap = new_cap;
	return true;
}

/* The room for output now, after growing the buffer when it is full. */
static http_decode_result
decoder_room(http_decoder *d, size_t *room)
{
	if (d->len >= d->cap && !decoder_grow(d))
		return d->cap > d->limit ? HTTP_DECODE_TOO_BIG : HTTP_DECODE_NO_MEMORY;
	*room = d->cap - d->len;
	return HTTP_DECODE_OK;
}

/* Inflate len bytes of gzip into d. */
static http_decode_result
feed_gzip(http_decoder *d, const char *in, size_t len)
{
	while (len > 0)
	{
		size_t		n = len > ZCHUNK ? ZCHUNK : len;

		d->zs.next_in = (Bytef *) in;
		d->zs.avail_in = (uInt) n;
		for (;;)
		{
			int			rc;
			size_t		room;
			http_decode_result r;

			if (d->ended)
			{
				if (d->zs.avail_in == 0)
					break;
				d->trailing = true;
				return HTTP_DECODE_BAD;
			}
			if ((r = decoder_room(d, &room)) != HTTP_DECODE_OK)
				return r;
			if (room > ZCHUNK)
				room = ZCHUNK;
			d->zs.next_out = (Bytef *) d->out + d->len;
			d->zs.avail_out = (uInt) room;
			rc = inflate(&d->zs, Z_NO_FLUSH);
			d->len += room - d->zs.avail_out;
			if (d->len > d->limit)
				return HTTP_DECODE_TOO_BIG;
			if (rc == Z_STREAM_END)
				d->ended = true;
			else if (rc == Z_BUF_ERROR)
				break;			/* no progress: it needs more input */
			else if (rc != Z_OK)
				return HTTP_DECODE_BAD;
			else if (d->zs.avail_in == 0 && d->zs.avail_out > 0)
				break;			/* all input taken, all output flushed */
		}
		in += n;
		len -= n;
	}
	return HTTP_DECODE_OK;
}

/* Decompress len bytes of zstd into d (one frame, nothing after it). */
static http_decode_result
feed_zstd(http_decoder *d, const char *in, size_t len)
{
	ZSTD_inBuffer src = {in, len, 0};

	for (;;)
	{
		ZSTD_outBuffer dst;
		size_t		room;
		size_t		rc;
		http_decode_result r;

		if (d->ended)
		{
			if (src.pos == src.size)
				return HTTP_DECODE_OK;
			d->trailing = true;
			return HTTP_DECODE_BAD;
		}
		if ((r = decoder_room(d, &room)) != HTTP_DECODE_OK)
			return r;
		dst.dst = d->out + d->len;
		dst.size = room;
		dst.pos = 0;
		rc = ZSTD_decompressStream(d->zd, &dst, &src);
		d->len += dst.pos;
		if (d->len > d->limit)
			return HTTP_DECODE_TOO_BIG;
		if (ZSTD_isError(rc))
		{
			snprintf(d->reason, sizeof(d->reason), "%s", ZSTD_getErrorName(rc));
			return HTTP_DECODE_BAD;
		}
		if (rc == 0)
			d->ended = true;	/* the frame ended, its output all flushed */
		else if (src.pos == src.size && dst.pos < dst.size)
			return HTTP_DECODE_OK;	/* all input taken, all output out */
	}
}

/* See http.h. */
http_decode_result
http_decoder_feed(http_decoder *d, const char *in, size_t len)
{
	if (d->coding == HTTP_CODING_GZIP)
		return feed_gzip(d, in, len);
	if (d->coding == HTTP_CODING_ZSTD)
		return feed_zstd(d, in, len);
	while (len > 0)
	{
		size_t		room;
		size_t		n;
		http_decode_result r;

		if ((r = decoder_room(d, &room)) != HTTP_DECODE_OK)
			return r;
		n = len < room ? len : room;
		memcpy(d->out + d->len, in, n);
		d->len += n;
		if (d->len > d->limit)
			return HTTP_DECODE_TOO_BIG;
		in += n;
		len -= n;
	}
	return HTTP_DECODE_OK;
}

/* See http.h. */
bool
http_decoder_finish(http_decoder *d, const char **out, size_t *out_len)
{
	if (d->coding != HTTP_CODING_IDENTITY && (!d->ended || d->trailing))
		return false;
	if (d->out == NULL && !decoder_grow(d))
		return false;
	d->out[d->len] = '\0';
	*out = d->out;
	*out_len = d->len;
	return true;
}

/* See http.h. */
const char *
http_decoder_reason(const http_decoder *d)
{
	return d->reason;
}

/* See http.h. */
size_t
http_decoder_capacity(const http_decoder *d)
{
	return d->cap;
}

/* See http.h. */
void
http_decoder_free(http_decoder *d)
{
	if (d == NULL)
		return;
	if (d->zs_ready)
		inflateEnd(&d->zs);
	ZSTD_freeDCtx(d->zd);
	free(d->out);
	free(d);
}
