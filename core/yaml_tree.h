/*
 * yaml_tree.h
 *     A YAML document as a tree of nodes that remember where they stand in
 *     the file, so that every config error can name the line and column.
 */
#ifndef TP_YAML_TREE_H
#define TP_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum tp_node_type
{
	TP_NODE_SCALAR = 1,
	TP_NODE_MAP = 2,
	TP_NODE_SEQ = 3
} tp_node_type;

typedef struct tp_node tp_node;

typedef struct tp_node_pair
{
	char	   *key;
	int			key_line;		/* 1-based */
	int			key_column;		/* 1-based */
	tp_node    *value;
} tp_node_pair;

struct tp_node
{
	tp_node_type type;
	int			line;			/* 1-based */
	int			column;			/* 1-based */
	char	   *scalar;			/* TP_NODE_SCALAR: the text */
	bool		plain;			/* TP_NODE_SCALAR: unquoted in the file */
	tp_node_pair *pairs;		/* TP_NODE_MAP, in file order */
	tp_node   **items;			/* TP_NODE_SEQ */
	size_t		n;				/* number of pairs or items */
};

/*
 * Parse the YAML document in text (name stands for the file in messages).
 * Anchors, aliases, tags other than the core schema's, keys that are not
 * scalars, a key repeated within one map (the message names both places),
 * nesting deeper than 64 levels and a second document are refused. On
 * failure returns NULL and writes "NAME:LINE:COLUMN: message" into err
 * (libyaml's own problem for a syntax error). An empty document (nothing,
 * comments only, "---" or "~") is an empty map. The result is owned by the
 * caller (tp_node_free).
 */
tp_node    *tp_yaml_parse(const char *text, size_t len, const char *name,
						  char *err, size_t errlen);

/* Read and parse a file; as above, and a file that cannot be read. */
tp_node    *tp_yaml_parse_file(const char *path, char *err, size_t errlen);

void		tp_node_free(tp_node *node);

/* The value of key in a map node, or NULL (also for non-maps). */
const tp_node *tp_node_get(const tp_node *map, const char *key);

/* The pair of key in a map node, or NULL. */
const tp_node_pair *tp_node_get_pair(const tp_node *map, const char *key);

/*
 * Follow a dotted key path ("targets.t1.endpoint.port") from node; keys that
 * contain dots are matched too, and a number indexes a sequence
 * ("targets.t1.target_expression.0"). NULL when there is no such node.
 */
const tp_node *tp_node_path(const tp_node *node, const char *path);

#endif							/* TP_YAML_TREE_H */
