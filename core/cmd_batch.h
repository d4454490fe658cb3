/*
 * cmd_batch.h
 *     The operator's commands for a held batch of a receiving instance:
 *
 *       teleport -config FILE --retry-batch SOURCE
 *       teleport -config FILE --skip-batch SOURCE:SEQ
 *
 * They work on the instance's database directly (teleport.inbox_stream,
 * see apply_loop.h), so they act whether the instance runs or not; a
 * running instance sees the change at its next pass.
 */
#ifndef TP_CMD_BATCH_H
#define TP_CMD_BATCH_H

#include <stdio.h>

#include "config.h"

/*
 * --retry-batch: set every stopped stream of source back to "retrying", so
 * that its held batch is tried again at once (attempts counted from 0).
 * Prints what it did to out. Returns TP_EXIT_OK; TP_EXIT_FAILURE (logged)
 * when no stream of source is stopped (none received, or only retrying);
 * TP_EXIT_DATABASE when the database cannot be reached; TP_EXIT_CONFIG for
 * a config without a conninfo.
 */
int			tp_cmd_retry_batch(const tp_config *config, const char *source,
							   FILE *out);

/*
 * --skip-batch SOURCE:SEQ (SEQ after the last ':'): in one transaction,
 * under the stream's apply lock (waiting for a unit being applied), move
 * the held batch SEQ, with the other parts of its source transaction, from
 * teleport.inbox to teleport.inbox_skipped (with the held reason), and
 * advance last_applied past them, so that the stream goes on with the next
 * batch. Only the stream's held batch, the next to apply, can be skipped.
 * Logs a warning and prints what it did to out. Returns TP_EXIT_OK;
 * TP_EXIT_USAGE for a malformed argument; TP_EXIT_FAILURE (logged) when
 * SEQ is not held, is held by several streams of source, or its source
 * transaction has not fully arrived; TP_EXIT_DATABASE when the database
 * cannot be reached.
 */
int			tp_cmd_skip_batch(const tp_config *config, const char *arg,
							  FILE *out);

#endif							/* TP_CMD_BATCH_H */
