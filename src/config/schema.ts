/**
 * The one configuration schema: every key with its type, default, environment variable and description.
 * Files use the nested form (`{ "pip": { "indexUrl": … } }`); the loader flattens them to these dotted keys.
 */
export type KeyType = 'string' | 'integer' | 'boolean' | 'string[]';

export interface KeySpec {
  type: KeyType;
  default: unknown;
  env: string;
  description: string;
  /** Allowed values for a string key. */
  oneOf?: readonly string[];
  /** Inclusive bounds for an integer key. */
  min?: number;
  max?: number;
}

export const schema = {
  host: { type: 'string', default: '127.0.0.1', env: 'PROCENV_HOST', description: 'address the HTTP server binds to' },
  port: { type: 'integer', default: 8080, env: 'PROCENV_PORT', min: 0, max: 65535, description: 'HTTP port (0 picks a free one)' },
  dataDir: { type: 'string', default: 'data', env: 'PROCENV_DATA_DIR', description: 'folder of the embedded store file; relative to the working directory' },
  processorsDir: { type: 'string', default: 'data/processors', env: 'PROCENV_PROCESSORS_DIR', description: 'folder holding one folder per processor' },
  nodeCode: { type: 'string', default: 'wasdi', env: 'PROCENV_NODE_CODE', description: "this node's code" },
  mainNodeCode: { type: 'string', default: 'wasdi', env: 'PROCENV_MAIN_NODE_CODE', description: 'the code of the main node; this node is the main node when both codes are equal' },
  store: { type: 'string', default: 'embedded', env: 'PROCENV_STORE', oneOf: ['embedded', 'mongodb'], description: 'embedded (SQLite file in dataDir) or mongodb (shared, multi-node)' },
  mongodbUrl: { type: 'string', default: '', env: 'MONGODB_URL', description: 'MongoDB connection string, required when store is mongodb' },
  mongodbDatabase: { type: 'string', default: 'wasdi', env: 'PROCENV_MONGODB_DATABASE', description: 'MongoDB database name' },
  // Flat, not store.busyWaitMs: `store` is itself a key, so a config file could not nest a `store` section.
  storeBusyWaitMs: { type: 'integer', default: 5000, env: 'PROCENV_STORE_BUSY_WAIT_MS', min: 0, max: 600000, description: 'how long a store call waits, without blocking, for a store locked by another process before it fails (a change then answers 503 STORE_UNAVAILABLE)' },
  logFormat: { type: 'string', default: 'auto', env: 'PROCENV_LOG_FORMAT', oneOf: ['auto', 'json', 'pretty'], description: 'json: pino JSON lines; pretty: readable lines; auto: pretty when standard output is a terminal, JSON otherwise' },
  logLevel: { type: 'string', default: 'info', env: 'PROCENV_LOG_LEVEL', oneOf: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'pino log level' },
  sessionIdleMinutes: { type: 'integer', default: 1440, env: 'PROCENV_SESSION_IDLE_MINUTES', min: 1, max: 525600, description: 'a session unused for this long expires' },
  mainUrl: { type: 'string', default: '', env: 'PROCENV_MAIN_URL', description: "compute nodes: the main node's base URL (history, reports)" },
  clusterKey: { type: 'string', default: '', env: 'PROCENV_CLUSTER_KEY', description: 'shared key of node-to-node calls (never logged); empty disables them' },
  metricsToken: { type: 'string', default: '', env: 'PROCENV_METRICS_TOKEN', description: 'when set, GET /metrics wants `Authorization: Bearer <token>` (never logged)' },
  advisories: { type: 'string', default: '', env: 'PROCENV_ADVISORIES', description: 'the offline advisory database of the vulnerability audit: a folder of OSV JSON files or a .zip of them (PyPI\'s OSV export); reloaded when it changes; empty: no audit database' },
  'cluster.concurrency': { type: 'integer', default: 32, env: 'PROCENV_CLUSTER_CONCURRENCY', min: 1, max: 256, description: 'deliveries to compute nodes sent at once' },
  'cluster.requestTimeoutMs': { type: 'integer', default: 10000, env: 'PROCENV_CLUSTER_REQUEST_TIMEOUT_MS', min: 100, max: 600000, description: 'time limit of one node-to-node request' },
  'cluster.retryBaseMs': { type: 'integer', default: 1000, env: 'PROCENV_CLUSTER_RETRY_BASE_MS', min: 10, max: 3600000, description: 'first retry delay of a failed delivery; doubles each attempt, with full jitter' },
  'cluster.retryMaxMs': { type: 'integer', default: 60000, env: 'PROCENV_CLUSTER_RETRY_MAX_MS', min: 10, max: 86400000, description: 'longest delay between two attempts of a delivery' },
  'cluster.deliveryDeadlineSeconds': { type: 'integer', default: 86400, env: 'PROCENV_CLUSTER_DELIVERY_DEADLINE_SECONDS', min: 1, max: 2592000, description: 'a delivery not accepted by then ends failed (the node still converges from the history)' },
  'cluster.syncIntervalSeconds': { type: 'integer', default: 60, env: 'PROCENV_CLUSTER_SYNC_INTERVAL_SECONDS', min: 1, max: 86400, description: "compute nodes: how often each processor's history is compared with the main node's" },
  'cluster.catchUpRetryBaseSeconds': { type: 'integer', default: 10, env: 'PROCENV_CLUSTER_CATCH_UP_RETRY_BASE_SECONDS', min: 1, max: 86400, description: 'compute nodes: first delay before a failed catch-up is tried again; doubles each failure, with jitter' },
  'cluster.catchUpRetryMaxSeconds': { type: 'integer', default: 1800, env: 'PROCENV_CLUSTER_CATCH_UP_RETRY_MAX_SECONDS', min: 1, max: 604800, description: 'compute nodes: longest delay between two failed catch-ups of a processor' },
  'cluster.statusCacheSeconds': { type: 'integer', default: 5, env: 'PROCENV_CLUSTER_STATUS_CACHE_SECONDS', min: 0, max: 3600, description: 'main node: how long a compute node\'s reachability and sync position are reused by GET /nodes and GET /processors/{name}/nodes' },
  'rabbitmq.url': { type: 'string', default: '', env: 'PROCENV_RABBITMQ_URL', description: "main node: amqp://user:password@host:5672/vhost of WASDI's broker; when set, the end and each status change of every ENVIRONMENTUPDATE operation is published as WASDI's messages (never logged with its credentials)" },
  'rabbitmq.exchange': { type: 'string', default: 'amq.topic', env: 'PROCENV_RABBITMQ_EXCHANGE', description: 'the exchange WASDI publishes to; the routing key is the workspace id' },
  'rabbitmq.retryMaxMs': { type: 'integer', default: 30000, env: 'PROCENV_RABBITMQ_RETRY_MAX_MS', min: 100, max: 3600000, description: 'longest wait between two attempts to reach a broker that is down (the first waits about 0.5 s, then doubles)' },
  'events.keepAliveSeconds': { type: 'integer', default: 15, env: 'PROCENV_EVENTS_KEEP_ALIVE_SECONDS', min: 1, max: 3600, description: 'an event stream gets a keep-alive comment this often (proxies close idle connections)' },
  'events.retryMs': { type: 'integer', default: 3000, env: 'PROCENV_EVENTS_RETRY_MS', min: 100, max: 600000, description: 'the reconnection delay an event stream tells its client (`retry:`)' },
  'events.maxStreams': { type: 'integer', default: 1000, env: 'PROCENV_EVENTS_MAX_STREAMS', min: 1, max: 100000, description: 'event streams this node holds open at once; more answer 429' },
  'events.maxStreamsPerUser': { type: 'integer', default: 20, env: 'PROCENV_EVENTS_MAX_STREAMS_PER_USER', min: 1, max: 10000, description: 'event streams one user may hold open at once on this node; more answer 429' },
  'events.maxPending': { type: 'integer', default: 2000, env: 'PROCENV_EVENTS_MAX_PENDING', min: 10, max: 1000000, description: 'events waiting for a slow client before its stream is closed (it resumes from its last id)' },
  'events.retentionCount': { type: 'integer', default: 100000, env: 'PROCENV_EVENTS_RETENTION_COUNT', min: 100, max: 100000000, description: 'events kept in the journal for clients that reconnect (the newest this many)' },
  'events.retentionHours': { type: 'integer', default: 168, env: 'PROCENV_EVENTS_RETENTION_HOURS', min: 1, max: 87600, description: 'events older than this are dropped from the journal' },
  'events.pollMs': { type: 'integer', default: 500, env: 'PROCENV_EVENTS_POLL_MS', min: 50, max: 60000, description: "how often the journal is read for events written by other procenv processes on the same store (this process's own go out at once)" },
  'events.ticketSeconds': { type: 'integer', default: 60, env: 'PROCENV_EVENTS_TICKET_SECONDS', min: 1, max: 60, description: 'how long a ticket from POST /events/tickets may be used (once) to open GET /events' },
  'queue.concurrency': { type: 'integer', default: 2, env: 'PROCENV_QUEUE_CONCURRENCY', min: 1, max: 64, description: 'operations of different processors run in parallel up to this many' },
  'queue.commandTimeoutSeconds': { type: 'integer', default: 1800, env: 'PROCENV_COMMAND_TIMEOUT_SECONDS', min: 1, max: 86400, description: 'a package-manager command still running after this long is stopped and its operation ends ERROR' },
  'queue.leaseSeconds': { type: 'integer', default: 15, env: 'PROCENV_QUEUE_LEASE_SECONDS', min: 1, max: 3600, description: 'a RUNNING operation whose worker has not renewed it for this long is taken as lost' },
  'managers.readProcesses': { type: 'integer', default: 2, env: 'PROCENV_MANAGERS_READ_PROCESSES', min: 1, max: 64, description: 'package-manager processes that reads (a live managerVersion) may run at once on this node' },
  'managers.versionCacheSeconds': { type: 'integer', default: 300, env: 'PROCENV_MANAGERS_VERSION_CACHE_SECONDS', min: 1, max: 86400, description: 'how long a live managerVersion answer is kept while no change of the environment is seen' },
  'catalog.maxPackagesInfoBytes': { type: 'integer', default: 8388608, env: 'PROCENV_CATALOG_MAX_PACKAGES_INFO_BYTES', min: 1024, max: 1073741824, description: 'a packagesInfo.json larger than this is refused, not parsed' },
  'catalog.maxEnvActionsBytes': { type: 'integer', default: 1048576, env: 'PROCENV_CATALOG_MAX_ENV_ACTIONS_BYTES', min: 1024, max: 1073741824, description: 'an envActionsList.txt larger than this is refused, not read' },
  'catalog.maxProcessorJsonBytes': { type: 'integer', default: 65536, env: 'PROCENV_CATALOG_MAX_PROCESSOR_JSON_BYTES', min: 256, max: 16777216, description: 'a processor.json larger than this is refused' },
  'catalog.readAhead': { type: 'boolean', default: true, env: 'PROCENV_CATALOG_READ_AHEAD', description: 'read every processor\'s packagesInfo.json once at start-up, on a worker thread, so that a first listPackages finds its answer ready' },
  'catalog.folderCheckMs': { type: 'integer', default: 1000, env: 'PROCENV_CATALOG_FOLDER_CHECK_MS', min: 100, max: 60000, description: 'how often the processors folder itself is checked; a folder that went away and came back is scanned and watched again' },
  'pip.python': { type: 'string', default: 'python3', env: 'PROCENV_PIP_PYTHON', description: 'interpreter that creates a processor virtual environment (a processor.json "python" wins)' },
  'pip.allowedPythons': { type: 'string[]', default: [], env: 'PROCENV_PIP_ALLOWED_PYTHONS', description: 'interpreters a processor.json "python" may name, besides pip.python and bare python3 / python3.X names (comma separated in the variable)' },
  'pip.venvDir': { type: 'string', default: '.venv', env: 'PROCENV_PIP_VENV_DIR', description: 'virtual environment folder, relative to the processor folder' },
  'pip.indexUrl': { type: 'string', default: '', env: 'PROCENV_PIP_INDEX_URL', description: 'pip --index-url for every pip call (empty: pip default)' },
  'pip.extraIndexUrls': { type: 'string[]', default: [], env: 'PROCENV_PIP_EXTRA_INDEX_URLS', description: 'pip --extra-index-url values (comma separated in the variable)' },
  'pip.findLinks': { type: 'string[]', default: [], env: 'PROCENV_PIP_FIND_LINKS', description: 'pip --find-links values (comma separated in the variable)' },
  'pip.noIndex': { type: 'boolean', default: false, env: 'PROCENV_PIP_NO_INDEX', description: 'pip --no-index: only find-links are used' },
  'pip.wheelCacheMegabytes': { type: 'integer', default: 2048, env: 'PROCENV_PIP_WHEEL_CACHE_MEGABYTES', min: 0, max: 10485760, description: 'size bound of the wheel cache (<dataDir>/wheels): the distributions of every version a generation holds, installed from first by restores and rollbacks; 0 turns it off' },
  'plans.ttlMinutes': { type: 'integer', default: 60, env: 'PROCENV_PLANS_TTL_MINUTES', min: 1, max: 10080, description: 'how long a plan (POST /processors/{name}/plans, a restore with ?plan=true) can be executed' },
  'plans.max': { type: 'integer', default: 1000, env: 'PROCENV_PLANS_MAX', min: 1, max: 100000, description: 'the most plans a procenv process keeps (in memory); the oldest go first' },
  'conda.command': { type: 'string', default: 'conda', env: 'PROCENV_CONDA_COMMAND', description: 'conda, mamba or micromamba (a name on PATH or a path)' },
  'conda.envDir': { type: 'string', default: '.conda', env: 'PROCENV_CONDA_ENV_DIR', description: 'conda environment prefix, relative to the processor folder' },
  'conda.channels': { type: 'string[]', default: [], env: 'PROCENV_CONDA_CHANNELS', description: 'conda -c channels for install (comma separated in the variable)' },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof schema;

type ValueOf<S extends KeySpec> = S['type'] extends 'integer' ? number
  : S['type'] extends 'boolean' ? boolean
  : S['type'] extends 'string[]' ? string[]
  : S extends { oneOf: readonly (infer U)[] } ? U : string;

export type Config = { readonly [K in ConfigKey]: ValueOf<(typeof schema)[K]> };
