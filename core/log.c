/*
 * log.c
 *     One line per event on stderr; errors also go to the sink.
 */
#include "tp_autoconf.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* The process's log settings; plugins reach them only through host->log. */
static struct
{
	pthread_mutex_t lock;
	tp_log_level level;
	tp_log_sink_fn sink;
	void	   *sink_arg;
}			tp_logger = {PTHREAD_MUTEX_INITIALIZER, TP_LOG_INFO, NULL, NULL};

static const char *const level_names[] = {
	[TP_LOG_ERROR] = "error",
	[TP_LOG_WARNING] = "warning",
	[TP_LOG_INFO] = "info",
	[TP_LOG_DEBUG] = "debug",
};

/* Set the threshold below which lines are dropped. */
void
tp_log_set_level(tp_log_level level)
{
	pthread_mutex_lock(&tp_logger.lock);
	tp_logger.level = level;
	pthread_mutex_unlock(&tp_logger.lock);
}

/* The current threshold. */
tp_log_level
tp_log_get_level(void)
{
	tp_log_level level;

	pthread_mutex_lock(&tp_logger.lock);
	level = tp_logger.level;
	pthread_mutex_unlock(&tp_logger.lock);
	return level;
}

/* Map a level's name to the level; false when name is none of them. */
bool
tp_log_parse_level(const char *name, tp_log_level *level)
{
	for (int i = TP_LOG_ERROR; i <= TP_LOG_DEBUG; i++)
	{
		if (strcasecmp(name, level_names[i]) == 0)
		{
			*level = (tp_log_level) i;
			return true;
		}
	}
	return false;
}

/* The static lower-case name of level. */
const char *
tp_log_level_name(tp_log_level level)
{
	if (level < TP_LOG_ERROR || level > TP_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

/* Install the error sink (NULL removes it). */
void
tp_log_set_sink(tp_log_sink_fn fn, void *arg)
{
	pthread_mutex_lock(&tp_logger.lock);
	tp_logger.sink = fn;
	tp_logger.sink_arg = arg;
	pthread_mutex_unlock(&tp_logger.lock);
}

/* Format and write one line; see log.h. */
void
tp_logv(tp_log_level level, const char *component, const char *fmt, va_list ap)
{
	char		message[4096];
	char		stamp[64];
	struct timeval tv;
	struct tm	tm;
	tp_log_sink_fn sink;
	void	   *sink_arg;

	pthread_mutex_lock(&tp_logger.lock);
	if (level > tp_logger.level)
	{
		pthread_mutex_unlock(&tp_logger.lock);
		return;
	}
	sink = tp_logger.sink;
	sink_arg = tp_logger.sink_arg;

	vsnprintf(message, sizeof(message), fmt, ap);
	/* one event, one line: fold embedded newlines (libpq ends with one) */
	for (char *p = message; *p != '\0'; p++)
	{
		if (*p == '\n' && p[1] != '\0')
			*p = ' ';
	}
	size_t		len = strlen(message);

	if (len > 0 && message[len - 1] == '\n')
		message[len - 1] = '\0';

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(stderr, "%s.%03d UTC [%ld] %s %s: %s\n", stamp,
			(int) (tv.tv_usec / 1000), (long) getpid(),
			tp_log_level_name(level), component ? component : "teleport",
			message);
	fflush(stderr);

	/*
	 * Call the sink under the lock, so that once tp_log_set_sink(NULL) has
	 * returned no thread is still inside the old sink. A sink never logs.
	 */
	if (sink != NULL && level == TP_LOG_ERROR)
		sink(sink_arg, level, component, message);
	pthread_mutex_unlock(&tp_logger.lock);
}

/* See log.h. */
void
tp_log(tp_log_level level, const char *component, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	tp_logv(level, component, fmt, ap);
	va_end(ap);
}
