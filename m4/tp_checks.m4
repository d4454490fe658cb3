# tp_checks.m4 - teleport's own configure helpers

# TP_CHECK_CFLAG(FLAG, VARIABLE)
# Append FLAG to VARIABLE when the C compiler accepts it (and its warnings
# are not errors about the flag itself).
AC_DEFUN([TP_CHECK_CFLAG], [
  AS_VAR_PUSHDEF([tp_cv], [tp_cv_cflag_$1])
  AC_CACHE_CHECK([whether $CC accepts $1], [tp_cv], [
    tp_save_CFLAGS=$CFLAGS
    tp_save_LDFLAGS=$LDFLAGS
    CFLAGS="$CFLAGS -Werror $1"
    LDFLAGS="$LDFLAGS $1"
    AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
      [AS_VAR_SET([tp_cv], [yes])], [AS_VAR_SET([tp_cv], [no])])
    CFLAGS=$tp_save_CFLAGS
    LDFLAGS=$tp_save_LDFLAGS])
  AS_VAR_IF([tp_cv], [yes], [$2="$$2 $1"])
  AS_VAR_POPDEF([tp_cv])
])

# TP_REQUIRE_PKG(PREFIX, MODULES, DEBIAN-PACKAGE)
# pkg-config check whose failure tells which Debian package to install.
AC_DEFUN([TP_REQUIRE_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [],
    [AC_MSG_ERROR([$2 not found by pkg-config: install the Debian package $3
($$1_PKG_ERRORS)])])
])

# TP_PTHREAD
# POSIX threads through -pthread, which glibc's gcc and clang both accept.
AC_DEFUN([TP_PTHREAD], [
  TP_CHECK_CFLAG([-pthread], [PTHREAD_CFLAGS])
  AS_IF([test -z "$PTHREAD_CFLAGS"],
    [AC_MSG_ERROR([$CC does not accept -pthread])])
  PTHREAD_LIBS=$PTHREAD_CFLAGS
  AC_SUBST([PTHREAD_CFLAGS])
  AC_SUBST([PTHREAD_LIBS])
])
