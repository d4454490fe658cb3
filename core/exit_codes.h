/*
 * exit_codes.h
 *     teleport's exit statuses; documented in the README.
 */
#ifndef TP_EXIT_CODES_H
#define TP_EXIT_CODES_H

#define TP_EXIT_OK 0			/* success */
#define TP_EXIT_FAILURE 1		/* a failure while running */
#define TP_EXIT_USAGE 2			/* wrong command-line usage */
#define TP_EXIT_CONFIG 3		/* the config file is invalid */
#define TP_EXIT_DATABASE 4		/* the database cannot be reached */
#define TP_EXIT_PLUGIN 5		/* a plugin is missing or was refused */

#endif							/* TP_EXIT_CODES_H */
