/*
 * mount.h - "unum mount" and "unum umount" (mount.c), called by unum's main.
 */
#ifndef UNUM_FUSE_MOUNT_H
#define UNUM_FUSE_MOUNT_H

/* argv[0] is "mount" / "umount"; they return the exit status. */
int unum_mount(int argc, char **argv);
int unum_umount(int argc, char **argv);

#endif
