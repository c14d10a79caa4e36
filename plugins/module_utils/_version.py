# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FOR INTERNAL COLLECTION USE ONLY: the collection version, kept in sync with galaxy.yml by a unit test."""

from __future__ import annotations

COLLECTION_NAME = "sap_btp.cloud_integration"
COLLECTION_VERSION = "1.1.0"
