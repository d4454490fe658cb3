/*
 * yaml_tree.c
 *     Parse a YAML document with libyaml's event API into a tree of tp_node
 *     that keeps the 1-based line and column of every node and key.
 *
 * Only what a configuration file needs is accepted: one document of maps,
 * sequences and scalars. Anchors and aliases, tags outside the core schema,
 * keys that are not scalars and keys repeated within one map are refused,
 * each with the position of the offending token.
 */
#include "tp_autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include <teleport/abi.h>

#include "yaml_tree.h"

/* Deeper nesting than this is refused rather than recursed into. */
#define TP_YAML_MAX_DEPTH 64

/* Key paths longer than this are truncated in duplicate-key messages. */
#define TP_YAML_PATH_LEN 512

/* State of one parse: libyaml's parser and where errors go. */
typedef struct yaml_state
{
	yaml_parser_t parser;
	const char *text;
	size_t		len;
	const char *name;
	char	   *err;
	size_t		errlen;
} yaml_state;

static tp_node *parse_node(yaml_state *st, yaml_event_t *event, int depth,
						   const char *path);

/* Write "NAME:LINE:COLUMN: message" into st->err; line and column 1-based. */
static void TP_PRINTF(4, 5)
set_error(yaml_state *st, int line, int column, const char *fmt,...)
{
	char		msg[512];
	va_list		ap;

	if (st->err == NULL || st->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(st->err, st->errlen, "%s:%d:%d: %s", st->name, line, column, msg);
}

/* The 1-based line and column of byte offset in the text. */
static void
offset_position(const yaml_state *st, size_t offset, int *line, int *column)
{
	*line = 1;
	*column = 1;
	for (size_t i = 0; i < offset && i < st->len; i++)
	{
		if (st->text[i] == '\n')
		{
			(*line)++;
			*column = 1;
		}
		else
			(*column)++;
	}
}

/* Report the parser's own error (syntax, encoding) with its position. */
static void
set_parser_error(yaml_state *st)
{
	const yaml_parser_t *p = &st->parser;
	int			line;
	int			column;
	const char *problem = p->problem ? p->problem : "unknown error";

	if (p->error == YAML_READER_ERROR)
	{
		offset_position(st, p->problem_offset, &line, &column);
		set_error(st, line, column, "invalid YAML: %s", problem);
		return;
	}
	if (p->error == YAML_MEMORY_ERROR)
	{
		set_error(st, 1, 1, "out of memory while parsing YAML");
		return;
	}
	line = (int) p->problem_mark.line + 1;
	column = (int) p->problem_mark.column + 1;
	if (p->context != NULL)
		set_error(st, line, column, "invalid YAML: %s (%s at line %d)",
				  problem, p->context, (int) p->context_mark.line + 1);
	else
		set_error(st, line, column, "invalid YAML: %s", problem);
}

/* Fetch the next event into *event; false (error set) when parsing fails. */
static bool
next_event(yaml_state *st, yaml_event_t *event)
{
	if (!yaml_parser_parse(&st->parser, event))
	{
		set_parser_error(st);
		return false;
	}
	return true;
}

/* A zero-filled node of type at event's start mark, or NULL (error set). */
static tp_node *
new_node(yaml_state *st, tp_node_type type, const yaml_event_t *event)
{
	tp_node    *node = calloc(1, sizeof(tp_node));

	if (node == NULL)
	{
		set_error(st, 1, 1, "out of memory");
		return NULL;
	}
	node->type = type;
	node->line = (int) event->start_mark.line + 1;
	node->column = (int) event->start_mark.column + 1;
	return node;
}

/*
 * Refuse anchors and tags outside the core schema on a node's start event.
 * anchor and tag are the event's fields (may be NULL).
 */
static bool
check_anchor_tag(yaml_state *st, const yaml_event_t *event,
				 const yaml_char_t *anchor, const yaml_char_t *tag)
{
	int			line = (int) event->start_mark.line + 1;
	int			column = (int) event->start_mark.column + 1;

	if (anchor != NULL)
	{
		set_error(st, line, column, "anchors are not supported (\"&%s\")",
				  (const char *) anchor);
		return false;
	}
	if (tag != NULL && strcmp((const char *) tag, "!") != 0 &&
		strncmp((const char *) tag, "tag:yaml.org,2002:", 18) != 0)
	{
		set_error(st, line, column, "tag \"%s\" is not supported",
				  (const char *) tag);
		return false;
	}
	return true;
}

/* Build a scalar node from a scalar event; NULL with error set on failure. */
static tp_node *
parse_scalar(yaml_state *st, yaml_event_t *event)
{
	tp_node    *node;
	size_t		length = event->data.scalar.length;

	if (!check_anchor_tag(st, event, event->data.scalar.anchor,
						  event->data.scalar.tag))
		return NULL;
	if (memchr(event->data.scalar.value, '\0', length) != NULL)
	{
		set_error(st, (int) event->start_mark.line + 1,
				  (int) event->start_mark.column + 1,
				  "a scalar contains a NUL character");
		return NULL;
	}
	node = new_node(st, TP_NODE_SCALAR, event);
	if (node == NULL)
		return NULL;
	node->scalar = malloc(length + 1);
	if (node->scalar == NULL)
	{
		free(node);
		set_error(st, 1, 1, "out of memory");
		return NULL;
	}
	memcpy(node->scalar, event->data.scalar.value, length);
	node->scalar[length] = '\0';
	node->plain = (event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
	return node;
}

/* Append child to a sequence node; false (error set) when out of memory. */
static bool
seq_append(yaml_state *st, tp_node *seq, tp_node *child)
{
	tp_node   **items = realloc(seq->items, (seq->n + 1) * sizeof(tp_node *));

	if (items == NULL)
	{
		set_error(st, 1, 1, "out of memory");
		return false;
	}
	seq->items = items;
	seq->items[seq->n++] = child;
	return true;
}

/* Parse the items of a sequence whose start event was just read. */
static tp_node *
parse_sequence(yaml_state *st, yaml_event_t *start, int depth,
			   const char *path)
{
	tp_node    *seq;

	if (!check_anchor_tag(st, start, start->data.sequence_start.anchor,
						  start->data.sequence_start.tag))
		return NULL;
	seq = new_node(st, TP_NODE_SEQ, start);
	if (seq == NULL)
		return NULL;
	for (;;)
	{
		yaml_event_t event;
		tp_node    *child;
		char		child_path[TP_YAML_PATH_LEN];

		if (!next_event(st, &event))
			break;
		if (event.type == YAML_SEQUENCE_END_EVENT)
		{
			yaml_event_delete(&event);
			return seq;
		}
		snprintf(child_path, sizeof(child_path), "%s%s%zu",
				 path, path[0] ? "." : "", seq->n);
		child = parse_node(st, &event, depth + 1, child_path);
		yaml_event_delete(&event);
		if (child == NULL)
			break;
		if (!seq_append(st, seq, child))
		{
			tp_node_free(child);
			break;
		}
	}
	tp_node_free(seq);
	return NULL;
}

/*
 * Read one key of a mapping from event (already fetched) into *pair, whose
 * value is still NULL. False, with error set, for a non-scalar key or a key
 * seen before in map.
 */
static bool
parse_key(yaml_state *st, tp_node *map, yaml_event_t *event,
		  const char *path, tp_node_pair *pair)
{
	int			line = (int) event->start_mark.line + 1;
	int			column = (int) event->start_mark.column + 1;
	tp_node    *key;

	if (event->type == YAML_MAPPING_START_EVENT ||
		event->type == YAML_SEQUENCE_START_EVENT)
	{
		set_error(st, line, column, "%s%skeys must be scalars",
				  path, path[0] ? ": " : "");
		return false;
	}
	if (event->type == YAML_ALIAS_EVENT)
	{
		set_error(st, line, column, "aliases are not supported (\"*%s\")",
				  (const char *) event->data.alias.anchor);
		return false;
	}
	key = parse_scalar(st, event);
	if (key == NULL)
		return false;
	for (size_t i = 0; i < map->n; i++)
	{
		if (strcmp(map->pairs[i].key, key->scalar) == 0)
		{
			set_error(st, line, column,
					  "duplicate key \"%s%s%s\" (first defined at line %d, column %d)",
					  path, path[0] ? "." : "", key->scalar,
					  map->pairs[i].key_line, map->pairs[i].key_column);
			tp_node_free(key);
			return false;
		}
	}
	pair->key = key->scalar;
	pair->key_line = line;
	pair->key_column = column;
	pair->value = NULL;
	free(key);
	return true;
}

/* Parse the pairs of a mapping whose start event was just read. */
static tp_node *
parse_mapping(yaml_state *st, yaml_event_t *start, int depth,
			  const char *path)
{
	tp_node    *map;

	if (!check_anchor_tag(st, start, start->data.mapping_start.anchor,
						  start->data.mapping_start.tag))
		return NULL;
	map = new_node(st, TP_NODE_MAP, start);
	if (map == NULL)
		return NULL;
	for (;;)
	{
		yaml_event_t event;
		tp_node_pair pair;
		tp_node_pair *pairs;
		char		child_path[TP_YAML_PATH_LEN];
		bool		ok;

		if (!next_event(st, &event))
			break;
		if (event.type == YAML_MAPPING_END_EVENT)
		{
			yaml_event_delete(&event);
			return map;
		}
		ok = parse_key(st, map, &event, path, &pair);
		yaml_event_delete(&event);
		if (!ok)
			break;
		pairs = realloc(map->pairs, (map->n + 1) * sizeof(tp_node_pair));
		if (pairs == NULL)
		{
			free(pair.key);
			set_error(st, 1, 1, "out of memory");
			break;
		}
		map->pairs = pairs;
		map->pairs[map->n++] = pair;

		if (!next_event(st, &event))
			break;
		snprintf(child_path, sizeof(child_path), "%s%s%s",
				 path, path[0] ? "." : "", pair.key);
		map->pairs[map->n - 1].value = parse_node(st, &event, depth + 1,
												  child_path);
		yaml_event_delete(&event);
		if (map->pairs[map->n - 1].value == NULL)
			break;
	}
	tp_node_free(map);
	return NULL;
}

/*
 * Build the node that starts with event (scalar, sequence or mapping start),
 * reading further events as needed. path is the node's key path, for
 * messages. Returns NULL with the error set.
 */
static tp_node *
parse_node(yaml_state *st, yaml_event_t *event, int depth, const char *path)
{
	int			line = (int) event->start_mark.line + 1;
	int			column = (int) event->start_mark.column + 1;

	if (depth > TP_YAML_MAX_DEPTH)
	{
		set_error(st, line, column, "nesting deeper than %d levels",
				  TP_YAML_MAX_DEPTH);
		return NULL;
	}
	switch (event->type)
	{
		case YAML_SCALAR_EVENT:
			return parse_scalar(st, event);
		case YAML_SEQUENCE_START_EVENT:
			return parse_sequence(st, event, depth, path);
		case YAML_MAPPING_START_EVENT:
			return parse_mapping(st, event, depth, path);
		case YAML_ALIAS_EVENT:
			set_error(st, line, column, "aliases are not supported (\"*%s\")",
					  (const char *) event->data.alias.anchor);
			return NULL;
		default:
			set_error(st, line, column, "unexpected YAML event");
			return NULL;
	}
}

/* An empty map at line 1, column 1, or NULL (error set). */
static tp_node *
empty_map(yaml_state *st)
{
	tp_node    *map = calloc(1, sizeof(tp_node));

	if (map == NULL)
	{
		set_error(st, 1, 1, "out of memory");
		return NULL;
	}
	map->type = TP_NODE_MAP;
	map->line = 1;
	map->column = 1;
	return map;
}

/*
 * Read the stream: at most one document. Returns its root (an empty map for
 * no document or an empty one), or NULL with the error set.
 */
static tp_node *
parse_stream(yaml_state *st)
{
	yaml_event_t event;
	tp_node    *root = NULL;

	if (!next_event(st, &event))
		return NULL;
	if (event.type != YAML_STREAM_START_EVENT)
	{
		yaml_event_delete(&event);
		set_error(st, 1, 1, "unexpected YAML event");
		return NULL;
	}
	yaml_event_delete(&event);

	if (!next_event(st, &event))
		return NULL;
	if (event.type == YAML_STREAM_END_EVENT)
	{
		yaml_event_delete(&event);
		return empty_map(st);
	}
	yaml_event_delete(&event);	/* DOCUMENT_START */

	if (!next_event(st, &event))
		return NULL;
	root = parse_node(st, &event, 0, "");
	yaml_event_delete(&event);
	if (root == NULL)
		return NULL;

	/* the document's end, then the stream's end (or a second document) */
	if (!next_event(st, &event))
	{
		tp_node_free(root);
		return NULL;
	}
	yaml_event_delete(&event);
	if (!next_event(st, &event))
	{
		tp_node_free(root);
		return NULL;
	}
	if (event.type != YAML_STREAM_END_EVENT)
	{
		set_error(st, (int) event.start_mark.line + 1,
				  (int) event.start_mark.column + 1,
				  "only one YAML document is allowed");
		yaml_event_delete(&event);
		tp_node_free(root);
		return NULL;
	}
	yaml_event_delete(&event);

	/* "---" alone, or a document of only "~": no keys at all */
	if (root->type == TP_NODE_SCALAR && root->plain &&
		(root->scalar[0] == '\0' || strcmp(root->scalar, "~") == 0 ||
		 strcmp(root->scalar, "null") == 0))
	{
		tp_node_free(root);
		return empty_map(st);
	}
	return root;
}

/* See yaml_tree.h. */
tp_node *
tp_yaml_parse(const char *text, size_t len, const char *name,
			  char *err, size_t errlen)
{
	yaml_state	st;
	tp_node    *root;

	memset(&st, 0, sizeof(st));
	st.text = text;
	st.len = len;
	st.name = name;
	st.err = err;
	st.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	if (!yaml_parser_initialize(&st.parser))
	{
		set_error(&st, 1, 1, "could not initialize the YAML parser");
		return NULL;
	}
	yaml_parser_set_input_string(&st.parser, (const unsigned char *) text, len);
	root = parse_stream(&st);
	yaml_parser_delete(&st.parser);
	return root;
}

/* See yaml_tree.h; a file that cannot be read is "PATH: could not ...". */
tp_node *
tp_yaml_parse_file(const char *path, char *err, size_t errlen)
{
	FILE	   *fp;
	char	   *text = NULL;
	size_t		len = 0;
	size_t		cap = 0;
	tp_node    *root;

	fp = fopen(path, "rb");
	if (fp == NULL)
	{
		snprintf(err, errlen, "could not open file \"%s\": %s",
				 path, strerror(errno));
		return NULL;
	}
	for (;;)
	{
		size_t		got;

		if (cap - len < 4096)
		{
			char	   *grown = realloc(text, cap + 65536);

			if (grown == NULL)
			{
				snprintf(err, errlen, "out of memory reading file \"%s\"", path);
				free(text);
				fclose(fp);
				return NULL;
			}
			text = grown;
			cap += 65536;
		}
		got = fread(text + len, 1, cap - len, fp);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(fp))
	{
		snprintf(err, errlen, "could not read file \"%s\": %s",
				 path, strerror(errno));
		free(text);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	root = tp_yaml_parse(text, len, path, err, errlen);
	free(text);
	return root;
}

/* Free node and everything below it; NULL is allowed. */
void
tp_node_free(tp_node *node)
{
	if (node == NULL)
		return;
	free(node->scalar);
	for (size_t i = 0; node->type == TP_NODE_MAP && i < node->n; i++)
	{
		free(node->pairs[i].key);
		tp_node_free(node->pairs[i].value);
	}
	for (size_t i = 0; node->type == TP_NODE_SEQ && i < node->n; i++)
		tp_node_free(node->items[i]);
	free(node->pairs);
	free(node->items);
	free(node);
}

/* The pair of key in map, or NULL; owned by map. */
const tp_node_pair *
tp_node_get_pair(const tp_node *map, const char *key)
{
	if (map == NULL || map->type != TP_NODE_MAP || key == NULL)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
	{
		if (strcmp(map->pairs[i].key, key) == 0)
			return &map->pairs[i];
	}
	return NULL;
}

/* The value of key in map, or NULL; owned by map. */
const tp_node *
tp_node_get(const tp_node *map, const char *key)
{
	const tp_node_pair *pair = tp_node_get_pair(map, key);

	return pair ? pair->value : NULL;
}

/*
 * Follow path from node. A key may itself contain dots (target names may),
 * so every key that matches a prefix of the path ending at a dot is tried.
 * A component made of digits indexes a sequence. Owned by node.
 */
const tp_node *
tp_node_path(const tp_node *node, const char *path)
{
	if (node == NULL || path == NULL)
		return NULL;
	if (path[0] == '\0')
		return node;
	if (node->type == TP_NODE_MAP)
	{
		for (size_t i = 0; i < node->n; i++)
		{
			const char *key = node->pairs[i].key;
			size_t		klen = strlen(key);
			const tp_node *found;

			if (strncmp(path, key, klen) != 0)
				continue;
			if (path[klen] == '\0')
				return node->pairs[i].value;
			if (path[klen] != '.')
				continue;
			found = tp_node_path(node->pairs[i].value, path + klen + 1);
			if (found != NULL)
				return found;
		}
		return NULL;
	}
	if (node->type == TP_NODE_SEQ)
	{
		char	   *end;
		unsigned long index;

		if (path[0] < '0' || path[0] > '9')
			return NULL;
		errno = 0;
		index = strtoul(path, &end, 10);
		if (errno != 0 || (*end != '\0' && *end != '.') || index >= node->n)
			return NULL;
		return tp_node_path(node->items[index], *end == '.' ? end + 1 : end);
	}
	return NULL;
}
