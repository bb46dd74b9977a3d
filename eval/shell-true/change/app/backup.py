"""Backups."""

import subprocess


def archive(path):
    return subprocess.run("tar czf backup.tgz " + path, shell=True, check=False).returncode
