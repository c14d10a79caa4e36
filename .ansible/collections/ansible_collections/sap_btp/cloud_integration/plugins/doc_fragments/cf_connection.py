# -*- coding: utf-8 -*-
# Copyright (c) sap_btp.cloud_integration contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Cloud Foundry connection options (declared in module_utils/_cf.py cf_argument_spec())."""

    DOCUMENTATION = r"""
options:
  cf_api:
    description:
      - The Cloud Foundry API endpoint, for example V(https://api.cf.eu10.hana.ondemand.com).
      - UAA (the login server) is discovered from the API's root document C(GET /).
      - If not set, E(CF_API) is used, then the target of the cf CLI configuration.
    type: str
  cf_username:
    description:
      - User name for the UAA password grant (client C(cf), like C(cf login)).
      - If not set, E(CF_USERNAME) is used.
      - Mutually exclusive with O(cf_client_id) and O(cf_token); requires O(cf_password) or O(cf_password_file).
    type: str
  cf_password:
    description:
      - Password of O(cf_username). If not set, E(CF_PASSWORD) is used.
      - Takes precedence over O(cf_password_file) when both are set (as options or through their environment
        variables); the file is then not read.
      - Requires O(cf_username).
    type: str
  cf_password_file:
    description:
      - Path of a file that holds the password of O(cf_username), used when O(cf_password) (and E(CF_PASSWORD))
        is not set. If not set, E(CF_PASSWORD_FILE) is used.
      - The file is read on the host that runs the module, only when the password grant is used. Trailing
        line breaks are removed; the rest of the content is the password. A missing, unreadable or empty file
        fails the task with a message that names this option.
      - The AWX / Automation Platform credential type C(SAP BTP Cloud Foundry) of this collection injects the
        password this way, as a file with mode C(0600) in the job's private data directory, because
        ansible-runner records the job's environment variables in its C(artifacts/<id>/command) file.
      - Requires O(cf_username).
    type: path
  cf_origin:
    description:
      - Identity provider origin key for the password grant, for a user of a custom identity provider
        (C(cf login --origin)). Leave unset for the default origin.
      - If not set, E(CF_ORIGIN) is used.
    type: str
  cf_client_id:
    description:
      - UAA client for the client-credentials grant (a technical client with C(cloud_controller.read) and
        C(cloud_controller.write)). If not set, E(CF_CLIENT_ID) is used.
      - Mutually exclusive with O(cf_username) and O(cf_token); requires O(cf_client_secret).
    type: str
  cf_client_secret:
    description:
      - Secret of O(cf_client_id). If not set, E(CF_CLIENT_SECRET) is used.
    type: str
  cf_token:
    description:
      - A UAA access token (the output of C(cf oauth-token), with or without the C(bearer) prefix).
      - It cannot be refreshed; a task fails with a clear message once it expires.
      - If not set, E(CF_TOKEN) is used.
    type: str
  org:
    description:
      - Name of the Cloud Foundry organization of the target space. If not set, E(CF_ORG) is used.
    type: str
  space:
    description:
      - Name of the target space in O(org). If not set, E(CF_SPACE) is used.
      - Without O(space) and O(space_guid), the space targeted in the cf CLI configuration is used when the
        cf CLI session is the credential source.
    type: str
  space_guid:
    description:
      - GUID of the target space, instead of O(org) and O(space).
    type: str
notes:
  - Authentication order - O(cf_token), then O(cf_client_id), then O(cf_username). With none of them, the
    refresh token of the cf CLI configuration (C($CF_HOME/.cf/config.json)) is used, as after C(cf login).
  - UAA access tokens are cached on the controller (in C(~/.cache/sap_btp.cloud_integration), or in
    E(SAP_BTP_CACHE_DIR)) in files readable only by the user, shared by all tasks, hosts and forks. A play
    therefore logs in once per user, not once per task. When Cloud Foundry rejects a token
    (C(CF-InvalidAuthToken)), a new one is requested once. Passwords, client secrets and refresh tokens are
    never cached.
  - The API root links, org and space GUIDs and the service plans of an offering are cached for 15 minutes
    as well (non-secret metadata, as the cf CLI keeps its target). A second identical run therefore costs
    one or two Cloud Foundry requests per instance or key.
  - The user needs the Space Developer role in the target space.
"""
