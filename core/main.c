/*
 * main.c
 *     teleport's entry point: parse the command line, load the config, and
 *     hand over to the command asked for.
 */
#include "tp_autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <teleport/abi.h>

#include "cli.h"
#include "cmd_batch.h"
#include "cmd_check_config.h"
#include "cmd_list_plugins.h"
#include "cmd_uninstall.h"
#include "config.h"
#include "daemon.h"
#include "exit_codes.h"
#include "loader.h"
#include "log.h"

int			main(int argc, char **argv);

/* Set the log level: --log-level wins over the config's log_level. */
static void
apply_log_level(const tp_cli *cli, const tp_config *config)
{
	tp_log_level level;

	if (cli->log_level_set)
		tp_log_set_level(cli->log_level);
	else if (config != NULL && config->log_level != NULL &&
			 tp_log_parse_level(config->log_level, &level))
		tp_log_set_level(level);
}

/* Run a command that needs the config: --check-config or the instance. */
static int
run_with_config(const tp_cli *cli)
{
	tp_config  *config = NULL;
	const char *dirs;
	int			status;

	if (!tp_config_load(cli->config_path, &config))
		return TP_EXIT_CONFIG;
	apply_log_level(cli, config);
	dirs = tp_loader_search_path(cli->plugin_dir != NULL ? cli->plugin_dir
								 : config->plugin_dir);

	if (cli->command == TP_CMD_CHECK_CONFIG)
		status = tp_cmd_check_config(config, dirs);
	else if (cli->command == TP_CMD_RETRY_BATCH)
		status = tp_cmd_retry_batch(config, cli->batch_arg, stdout);
	else if (cli->command == TP_CMD_SKIP_BATCH)
		status = tp_cmd_skip_batch(config, cli->batch_arg, stdout);
	else if (cli->command == TP_CMD_UNINSTALL)
		status = tp_cmd_uninstall(config, dirs);
	else
		status = tp_daemon_run(config, cli, dirs);
	tp_config_free(config);
	return status;
}

/* --list-plugins: the path from --plugin-dir, else the config's, else default. */
static int
list_plugins(const tp_cli *cli)
{
	tp_config  *config = NULL;
	const char *explicit_dirs = cli->plugin_dir;
	int			status;

	if (explicit_dirs == NULL && cli->config_path != NULL)
	{
		if (!tp_config_load(cli->config_path, &config))
			return TP_EXIT_CONFIG;
		explicit_dirs = config->plugin_dir;
	}
	status = tp_cmd_list_plugins(tp_loader_search_path(explicit_dirs), stdout);
	tp_config_free(config);
	return status;
}

/*
 * Large blocks (a batch's data, a query's result) straight from mmap and
 * back to the system when freed. glibc otherwise raises its mmap threshold
 * to the largest block freed so far (up to 32 MB), after which batches
 * come from the heaps of the threads that handle them and their pages
 * stay resident: the peak RSS would follow the largest batch ever seen,
 * once per thread.
 */
static void
bound_memory(void)
{
#ifdef __GLIBC__
	(void) mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

/* See the usage text in cli.c. */
int
main(int argc, char **argv)
{
	tp_cli		cli;
	int			status;

	bound_memory();
	if (!tp_cli_parse(argc, argv, &cli, stderr))
		return TP_EXIT_USAGE;
	apply_log_level(&cli, NULL);

	switch (cli.command)
	{
		case TP_CMD_HELP:
			tp_cli_usage(stdout);
			status = TP_EXIT_OK;
			break;
		case TP_CMD_VERSION:
			printf("teleport %s (plugin ABI %d.%d)\n", PACKAGE_VERSION,
				   TELEPORT_ABI_MAJOR, TELEPORT_ABI_MINOR);
			status = TP_EXIT_OK;
			break;
		case TP_CMD_LIST_PLUGINS:
			status = list_plugins(&cli);
			break;
		case TP_CMD_CHECK_CONFIG:
		case TP_CMD_RETRY_BATCH:
		case TP_CMD_SKIP_BATCH:
		case TP_CMD_RUN:
		default:
			status = run_with_config(&cli);
			break;
	}
	tp_cli_free(&cli);
	return status;
}
