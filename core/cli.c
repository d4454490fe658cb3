/*
 * cli.c
 *     teleport's command line.
 *
 * getopt_long_only() accepts both the seed's single-dash long options
 * (-config FILE) and the double-dash forms (--config FILE, --config=FILE).
 */
#include "tp_autoconf.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "xalloc.h"

enum
{
	OPT_CONFIG = 256,
	OPT_MODE,
	OPT_LOAD_TARGET,
	OPT_PLUGIN_DIR,
	OPT_LIST_PLUGINS,
	OPT_CHECK_CONFIG,
	OPT_VERSION,
	OPT_HELP,
	OPT_LOG_LEVEL,
	OPT_RETRY_BATCH,
	OPT_SKIP_BATCH,
	OPT_UNINSTALL
};

static const struct option long_options[] = {
	{"config", required_argument, NULL, OPT_CONFIG},
	{"mode", required_argument, NULL, OPT_MODE},
	{"load-target", required_argument, NULL, OPT_LOAD_TARGET},
	{"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
	{"list-plugins", no_argument, NULL, OPT_LIST_PLUGINS},
	{"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
	{"version", no_argument, NULL, OPT_VERSION},
	{"help", no_argument, NULL, OPT_HELP},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"retry-batch", required_argument, NULL, OPT_RETRY_BATCH},
	{"skip-batch", required_argument, NULL, OPT_SKIP_BATCH},
	{"uninstall", no_argument, NULL, OPT_UNINSTALL},
	{NULL, 0, NULL, 0}
};

/* See cli.h. */
void
tp_cli_usage(FILE *out)
{
	fputs("Usage:\n"
		  "  teleport -config FILE [-mode replication|initial-load] [-load-target NAME]\n"
		  "  teleport --check-config -config FILE\n"
		  "  teleport --list-plugins [--plugin-dir DIR] [-config FILE]\n"
		  "  teleport -config FILE --retry-batch SOURCE\n"
		  "  teleport -config FILE --skip-batch SOURCE:SEQ\n"
		  "  teleport -config FILE --uninstall\n"
		  "  teleport --version | --help\n"
		  "\n"
		  "Options (one dash or two):\n"
		  "  -config FILE         the instance's YAML configuration\n"
		  "  -mode MODE           replication (default) or initial-load\n"
		  "  -load-target NAME    with -mode initial-load: the target to load\n"
		  "  --plugin-dir DIR     where plugins are (repeatable; default: plugin_dir\n"
		  "                       of the config, $TELEPORT_PLUGIN_DIR, or the\n"
		  "                       installed plugin directory)\n"
		  "  --list-plugins       list the plugins found, then exit\n"
		  "  --check-config       validate the config, connect to the database,\n"
		  "                       print a summary, then exit\n"
		  "  --retry-batch SOURCE try the stopped batch of SOURCE's stream again\n"
		  "  --skip-batch SOURCE:SEQ  skip SOURCE's held batch SEQ (recorded in\n"
		  "                       teleport.inbox_skipped), then go on\n"
		  "  --uninstall          remove the capture triggers, event triggers and\n"
		  "                       queue from the source database (stop it first)\n"
		  "  --log-level LEVEL    error, warning, info (default) or debug\n"
		  "  --version            print the version, then exit\n"
		  "  --help               print this help, then exit\n"
		  "\n"
		  "Exit status: 0 success, 1 failure, 2 wrong usage, 3 invalid config,\n"
		  "4 database unreachable, 5 plugin missing or refused.\n", out);
}

/* Print a usage error and the usage; always false, for the caller to return. */
static bool
usage_error(FILE *err, const char *fmt, const char *arg)
{
	fputs("teleport: ", err);
	fprintf(err, fmt, arg);
	fputs("\n\n", err);
	tp_cli_usage(err);
	return false;
}

/* Append dir to the ':'-joined plugin path. */
static void
add_plugin_dir(tp_cli *cli, const char *dir)
{
	if (cli->plugin_dir == NULL)
	{
		cli->plugin_dir = tp_xstrdup(dir);
		return;
	}
	size_t		len = strlen(cli->plugin_dir) + strlen(dir) + 2;

	cli->plugin_dir = tp_xrealloc(cli->plugin_dir, len);
	strcat(cli->plugin_dir, ":");
	strcat(cli->plugin_dir, dir);
}

/* Record a command, refusing a second, different one. */
static bool
set_command(tp_cli *cli, tp_command command, bool *explicit, FILE *err,
			const char *option)
{
	if (*explicit && cli->command != command)
		return usage_error(err, "%s cannot be combined with another command option", option);
	cli->command = command;
	*explicit = true;
	return true;
}

/* See cli.h. */
bool
tp_cli_parse(int argc, char **argv, tp_cli *cli, FILE *err)
{
	bool		command_given = false;
	bool		mode_given = false;
	int			c;

	memset(cli, 0, sizeof(*cli));
	cli->command = TP_CMD_RUN;
	cli->mode = TP_MODE_REPLICATION;
	optind = 0;					/* GNU: full reinitialisation */
	opterr = 0;

	while ((c = getopt_long_only(argc, argv, ":", long_options, NULL)) != -1)
	{
		bool		ok = true;

		switch (c)
		{
			case OPT_CONFIG:
				cli->config_path = optarg;
				break;
			case OPT_MODE:
				if (strcmp(optarg, "replication") == 0)
					cli->mode = TP_MODE_REPLICATION;
				else if (strcmp(optarg, "initial-load") == 0)
					cli->mode = TP_MODE_INITIAL_LOAD;
				else
					ok = usage_error(err, "invalid -mode \"%s\": use replication or initial-load", optarg);
				mode_given = true;
				break;
			case OPT_LOAD_TARGET:
				cli->load_target = optarg;
				break;
			case OPT_PLUGIN_DIR:
				if (optarg[0] == '\0')
					ok = usage_error(err, "%s", "--plugin-dir needs a directory");
				else
					add_plugin_dir(cli, optarg);
				break;
			case OPT_LIST_PLUGINS:
				ok = set_command(cli, TP_CMD_LIST_PLUGINS, &command_given, err, "--list-plugins");
				break;
			case OPT_CHECK_CONFIG:
				ok = set_command(cli, TP_CMD_CHECK_CONFIG, &command_given, err, "--check-config");
				break;
			case OPT_VERSION:
				ok = set_command(cli, TP_CMD_VERSION, &command_given, err, "--version");
				break;
			case OPT_HELP:
				ok = set_command(cli, TP_CMD_HELP, &command_given, err, "--help");
				break;
			case OPT_RETRY_BATCH:
				ok = set_command(cli, TP_CMD_RETRY_BATCH, &command_given, err, "--retry-batch");
				cli->batch_arg = optarg;
				break;
			case OPT_SKIP_BATCH:
				ok = set_command(cli, TP_CMD_SKIP_BATCH, &command_given, err, "--skip-batch");
				cli->batch_arg = optarg;
				break;
			case OPT_UNINSTALL:
				ok = set_command(cli, TP_CMD_UNINSTALL, &command_given, err, "--uninstall");
				break;
			case OPT_LOG_LEVEL:
				if (!tp_log_parse_level(optarg, &cli->log_level))
					ok = usage_error(err, "invalid --log-level \"%s\": use error, warning, info or debug", optarg);
				cli->log_level_set = true;
				break;
			case ':':
				ok = usage_error(err, "option %s needs an argument", argv[optind - 1]);
				break;
			default:
				ok = usage_error(err, "unknown option \"%s\"", argv[optind - 1]);
				break;
		}
		if (!ok)
		{
			tp_cli_free(cli);
			return false;
		}
	}
	if (optind < argc)
	{
		tp_cli_free(cli);
		return usage_error(err, "unexpected argument \"%s\"", argv[optind]);
	}

	const char *problem = NULL;

	if ((cli->command == TP_CMD_RUN || cli->command == TP_CMD_CHECK_CONFIG ||
		 cli->command == TP_CMD_RETRY_BATCH || cli->command == TP_CMD_SKIP_BATCH ||
		 cli->command == TP_CMD_UNINSTALL) &&
		cli->config_path == NULL)
		problem = "-config FILE is required";
	else if ((cli->command == TP_CMD_RETRY_BATCH || cli->command == TP_CMD_SKIP_BATCH) &&
			 cli->batch_arg[0] == '\0')
		problem = "--retry-batch and --skip-batch need a source";
	else if (cli->command != TP_CMD_RUN && (mode_given || cli->load_target != NULL))
		problem = "-mode and -load-target are only for running an instance";
	else if (cli->mode == TP_MODE_INITIAL_LOAD && cli->load_target == NULL)
		problem = "-mode initial-load needs -load-target NAME";
	else if (cli->mode != TP_MODE_INITIAL_LOAD && cli->load_target != NULL)
		problem = "-load-target is only for -mode initial-load";
	if (problem != NULL)
	{
		tp_cli_free(cli);
		return usage_error(err, "%s", problem);
	}
	return true;
}

/* See cli.h. */
void
tp_cli_free(tp_cli *cli)
{
	free(cli->plugin_dir);
	cli->plugin_dir = NULL;
}
