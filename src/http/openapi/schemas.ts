import { EVENT_TYPES, type EventType } from '../../domain/events.ts';
import { OPERATION_STATUSES } from '../../domain/operation.ts';
import { PROCESSOR_NAME } from '../../domain/processor.ts';
import { MAX_DELAY_WINDOW_MINUTES, MAX_WINDOW_MINUTES, WEEKDAYS, WINDOW_NAME } from '../../domain/schedules.ts';
import { ref, type Schema } from './spec-types.ts';

/**
 * The component schemas of procenv's OpenAPI document: what each answer's JSON is. Objects list the fields procenv
 * sends; optional ones are absent rather than null (WASDI's view models leave nulls out the same way).
 */

const ms = (description: string): Schema => ({ type: 'integer', minimum: 0, description: `${description} (ms since the epoch)` });
const text = (description: string): Schema => ({ type: 'string', description });
const count = (description: string): Schema => ({ type: 'integer', minimum: 0, description });
const object = (properties: Record<string, Schema>, required: string[], description?: string): Schema => ({
  type: 'object', ...(description ? { description } : {}), required, properties,
});

const DELIVERY_STATES = ['pending', 'delivered', 'applied', 'failed', 'skipped'] as const;
const NODE_STEPS = ['in-step', 'behind', 'failing', 'absent', 'unreachable'] as const;

const operationProperties: Record<string, Schema> = {
  processObjId: text('the operation id (WASDI\'s ProcessWorkspace id)'),
  operationType: { const: 'ENVIRONMENTUPDATE' },
  processorId: text('the processor\'s id'),
  productName: text('the processor\'s name (WASDI\'s field name)'),
  workspaceId: text('the workspace as the caller sent it (`-` when none: procenv has no workspaces)'),
  userId: text('who asked for it (`procenv-sync` for a compute node\'s catch-up)'),
  nodeCode: text('the node that runs it'),
  status: ref('OperationStatus'),
  commands: { type: 'array', items: ref('UpdateCommand'), description: 'run in order; empty: a refresh of packagesInfo.json' },
  operationTimestamp: ms('when it was stored'),
  operationStartTimestamp: ms('when a worker took it'),
  operationEndTimestamp: ms('when it ended'),
  lastStateChangeTimestamp: ms('its last change of status'),
  progressPerc: { type: 'integer', minimum: 0, maximum: 100 },
  idempotencyKey: text('the caller\'s Idempotency-Key, or `origin:<node>:<id>` for a delivery from the main node'),
  error: ref('OperationError'),
  durationMs: count('how long it ran'),
  pid: { type: 'integer', description: 'its latest package-manager process' },
  pidStartTime: text('that process\'s start time as /proc tells it (with the pid, it names the process unambiguously)'),
  origin: object({ nodeCode: text('the main node'), operationId: text('the main node\'s operation') }, ['nodeCode', 'operationId'],
    'compute node: the main node\'s operation this one was delivered for'),
  sync: object({
    epoch: text('the main node\'s history epoch'),
    from: count('first history line applied'),
    to: count('history line after the last one applied'),
    origins: { type: 'array', items: { type: 'string' }, description: 'the main node\'s operations that wrote those lines' },
  }, ['epoch', 'from', 'to'], 'compute node: a catch-up applying history lines [from, to)'),
  appliedCount: count('how many of `commands`, from the first, the package manager applied (once ended)'),
  recorded: object({ epoch: text('history epoch'), lines: { type: 'array', items: { type: 'integer', minimum: 0 } } }, ['epoch', 'lines'],
    'main node: the envActionsList.txt lines this operation appended'),
  exact: { type: 'boolean', description: 'the commands are exact pins (a restore): each installed without its dependencies, from the wheel cache first' },
  expect: object({ generation: { type: 'integer', minimum: 1 }, hash: ref('GenerationHash') }, ['generation', 'hash'],
    'a plan or a restore: runs only while the environment is still this generation, and ends ERROR STALE_PLAN otherwise'),
  planId: text('the plan this operation executes'),
  batchId: text('main node: the batch this operation is one processor\'s part of'),
  restoreOf: { type: 'integer', minimum: 1, description: 'a restore: the generation it brings back' },
  rollbackOnFailure: { type: 'boolean', description: 'when a command fails, the environment goes back to the generation it started from' },
  rollback: object({
    generation: { type: 'integer', minimum: 1, description: 'the generation it went back to' },
    commands: { type: 'array', items: { type: 'string' }, description: 'the exact commands it ran (recorded in envActionsList.txt on the main node)' },
    status: { enum: ['DONE', 'ERROR'] },
    error: ref('OperationError'),
  }, ['generation', 'commands', 'status'], 'rollbackOnFailure: what the rollback after the failure did'),
  notBefore: ms('a scheduled operation: its planned start; no worker takes it before'),
  notAfter: ms('a scheduled operation bound to a window: the close of the opening it is planned in; it never starts from then on, and is moved to the next opening'),
  window: text('the maintenance window it is bound to'),
  deliverAfter: ms('`deliverAfter` as asked'),
  deliverDelayWindowMinutes: { type: 'integer', minimum: 0, maximum: MAX_DELAY_WINDOW_MINUTES, description: '`deliverDelayWindowMinutes` as asked' },
  rescheduled: count('how many times it was moved to a later opening of its window'),
};
const operationRequired = [
  'processObjId', 'operationType', 'processorId', 'productName', 'workspaceId', 'userId', 'nodeCode', 'status', 'commands',
  'operationTimestamp', 'lastStateChangeTimestamp', 'progressPerc',
];

/** The JSON of one event as journaled and streamed: `{ id, type, at, processor, operationId?, …fields }`. */
function eventSchema(type: EventType, description: string, fields: Record<string, Schema>, required: string[], operationId: 'required' | 'optional'): Schema {
  return object({
    id: count('the event\'s id in the journal (the stream\'s `id:`; resume after it with Last-Event-ID)'),
    type: { const: type },
    at: ms('when it happened'),
    processor: text('the processor\'s name'),
    operationId: text('the operation it concerns'),
    ...fields,
  }, ['id', 'type', 'at', 'processor', ...(operationId === 'required' ? ['operationId'] : []), ...required], description);
}

const operationField = { operation: ref('Operation') };

const generationProperties: Record<string, Schema> = {
  processorName: ref('ProcessorName'),
  number: { type: 'integer', minimum: 1, description: 'from 1, per processor (and per node)' },
  hash: ref('GenerationHash'),
  manager: object({ kind: { enum: ['pip', 'conda'] }, version: text('the manager\'s version, as its snapshot names it') }, ['kind']),
  cause: { enum: ['operation', 'disk', 'first-seen'], description: '`operation`; `disk`: packagesInfo.json changed by another hand; `first-seen`: as procenv first saw the processor' },
  operationId: text('cause `operation`: the operation that made it'),
  userId: text('cause `operation`: the user it ran for'),
  at: ms('when it was recorded'),
  packageCount: count('packages in the set'),
};
const generationRequired = ['processorName', 'number', 'hash', 'manager', 'cause', 'at', 'packageCount'];

const EVENT_SCHEMAS: Record<EventType, [string, Schema]> = {
  'operation.queued': ['OperationQueuedEvent', eventSchema('operation.queued', 'stored CREATED', {
    ...operationField, position: count('operations of the processor ahead of it on this node'),
  }, ['operation', 'position'], 'required')],
  'operation.running': ['OperationRunningEvent', eventSchema('operation.running', 'a worker took it', operationField, ['operation'], 'required')],
  'operation.command': ['OperationCommandEvent', eventSchema('operation.command', 'a command started or finished', {
    index: count('the command\'s place in `commands`'),
    count: count('how many commands the operation has'),
    command: ref('UpdateCommand'),
    phase: { enum: ['started', 'finished'] },
    ok: { type: 'boolean', description: 'finished: whether the package manager applied it' },
    error: ref('OperationError'),
  }, ['index', 'count', 'command', 'phase'], 'required')],
  'operation.progress': ['OperationProgressEvent', eventSchema('operation.progress', 'after each command', {
    progressPerc: { type: 'integer', minimum: 0, maximum: 100 },
  }, ['progressPerc'], 'required')],
  'operation.log': ['OperationLogEvent', eventSchema('operation.log', 'log lines stored (batched, about every 200 ms)', {
    lines: { type: 'array', items: ref('OperationLogLine') },
  }, ['lines'], 'required')],
  'operation.ended': ['OperationEndedEvent', eventSchema('operation.ended', 'DONE, ERROR or STOPPED', operationField, ['operation'], 'required')],
  'operation.requeued': ['OperationRequeuedEvent', eventSchema('operation.requeued', 'its worker died before anything ran; it waits again', operationField, ['operation'], 'required')],
  'operation.rescheduled': ['OperationRescheduledEvent', eventSchema('operation.rescheduled', 'a scheduled operation missed its window\'s opening, or its window changed: planned anew', {
    ...operationField, reason: text('why: `window closed`, `window changed`'),
  }, ['operation', 'reason'], 'required')],
  'operation.cancelRequested': ['OperationCancelRequestedEvent', eventSchema('operation.cancelRequested', 'a cancel of a running operation, before its processes are killed', operationField, ['operation'], 'required')],
  'delivery.changed': ['DeliveryChangedEvent', eventSchema('delivery.changed', 'main node: a compute node\'s delivery of the operation changed state', {
    nodeCode: text('the compute node'),
    state: ref('DeliveryState'),
    attempts: count('sending attempts so far'),
    lastError: text('why the last attempt or the node\'s operation failed'),
    remoteOperationId: text('the compute node\'s own operation'),
  }, ['nodeCode', 'state', 'attempts'], 'required')],
  'packages.changed': ['PackagesChangedEvent', eventSchema('packages.changed', 'packagesInfo.json changed (listPackages answers anew)', {
    source: { enum: ['operation', 'disk'], description: '`operation`: rewritten after an operation (named by operationId); `disk`: by another hand, as the watcher saw it' },
  }, ['source'], 'optional')],
  'generation.recorded': ['GenerationRecordedEvent', eventSchema('generation.recorded', 'a new generation of the processor\'s environment was stored', {
    generation: ref('GenerationSummary'),
  }, ['generation'], 'optional')],
};

/** The event types and the component schema of each (the test checks they cover `EVENT_TYPES`). */
export const EVENT_SCHEMA_NAMES: Record<EventType, string> = Object.fromEntries(
  EVENT_TYPES.map((type) => [type, EVENT_SCHEMAS[type][0]]),
) as Record<EventType, string>;

export const schemas: Record<string, Schema> = {
  Error: object({
    error: object({
      code: text('stable, for programs to branch on (`UNAUTHENTICATED`, `PROCESSOR_NOT_ACCESSIBLE`, …)'),
      message: text('for people; never carries credentials'),
      details: { type: 'object', description: 'more about some errors (`updateCommand`, `package`, …)' },
    }, ['code', 'message']),
  }, ['error'], 'Every error answer (WASDI\'s are empty). The status comes from the error\'s class (`src/http/errors.ts`).'),

  ProcessorName: { type: 'string', pattern: PROCESSOR_NAME.source, description: 'a processor\'s name, which is its folder\'s name' },
  UpdateCommand: {
    type: 'string', maxLength: 512, examples: ['addPackage/numpy/1.26.4/', 'upgradePackage/requests/', 'removePackage/scipy/'],
    description: '`addPackage|upgradePackage|removePackage "/" name [ "/" version ] [ "/" ]` (WASDI\'s form; stored with the trailing slash)',
  },
  OperationStatus: { enum: [...OPERATION_STATUSES] },
  OperationError: object({ code: text('`COMMAND_FAILED`, `COMMAND_TIMEOUT`, `INTERRUPTED`, `CANCELLED`, `ENVIRONMENT_REFUSED`, …'), message: text('what happened') }, ['code', 'message']),
  DeliveryState: { enum: [...DELIVERY_STATES] },

  // WASDI's /packageManager
  Package: object({
    managerName: text('`pip` or `conda`'),
    packageName: text('the package'),
    currentVersion: text('installed version'),
    currentBuild: text('conda build string'),
    latestVersion: text('pip: a newer version, for outdated packages'),
    type: text('pip: `wheel`, `sdist`'),
    channel: text('conda channel'),
  }, ['packageName'], 'One row of listPackages (WASDI\'s PackageViewModel); fields WASDI has null are left out.'),
  ManagerVersion: object({
    name: text('`pip`, `conda`, `mamba`, `micromamba`'),
    version: text('as the manager prints it'),
    major: { type: 'integer' },
    minor: { type: 'integer' },
    patch: { type: 'integer' },
  }, ['major', 'minor', 'patch'], 'WASDI\'s PackageManagerViewModel; `""` or a missing part reads as 0.'),
  UpdateAccepted: object({ processObjId: text('the stored ENVIRONMENTUPDATE operation; follow it with GET /operations/{id}') }, ['processObjId']),

  // The operation API
  Operation: object(operationProperties, operationRequired, 'An ENVIRONMENTUPDATE operation, in WASDI\'s ProcessWorkspace field names plus procenv\'s own.'),
  OperationWithDeliveries: object({
    ...operationProperties,
    nodes: { type: 'array', items: ref('DeliveryView'), description: 'main node: the operation\'s delivery to each compute node (absent when there are none)' },
  }, operationRequired, 'GET /operations/{id}: the operation and, on the main node, how each compute node took it.'),
  DeliveryView: object({
    nodeCode: text('the compute node'),
    state: ref('DeliveryState'),
    attempts: count('sending attempts so far'),
    updatedAt: ms('its last change'),
    lastError: text('why the last attempt or the node\'s operation failed'),
    remoteOperationId: text('the compute node\'s own operation, once it accepted the delivery'),
  }, ['nodeCode', 'state', 'attempts', 'updatedAt'], 'One compute node\'s delivery of a change made on the main node.'),
  OperationLogLine: object({
    seq: { type: 'integer', minimum: 1, description: 'increasing from 1 per operation (page with `after`)' },
    t: ms('when it was written'),
    stream: { enum: ['stdout', 'stderr', 'procenv'], description: '`procenv`: procenv\'s own notes (`command k/n`, …)' },
    line: text('one line of output'),
  }, ['seq', 't', 'stream', 'line']),
  SubmitOperation: object({
    commands: { type: 'array', maxItems: 50, items: ref('UpdateCommand'), description: 'run in order as one operation; `[]` is a refresh' },
    updateCommand: { ...ref('UpdateCommand'), description: 'one command, instead of `commands`' },
    workspace: { type: 'string', maxLength: 200, default: '-', description: 'recorded as the operation\'s workspaceId' },
    rollbackOnFailure: { type: 'boolean', default: false, description: 'when a command fails, bring the environment back to the generation it started from' },
    deliverAfter: {
      type: 'string', format: 'date-time', examples: ['2026-05-01T02:00:00Z', '2026-05-01T04:00:00+02:00'],
      description: 'not before this time (ISO 8601 with `Z` or an offset, at most a year ahead); a time in the past means as soon as possible',
    },
    deliverDelayWindowMinutes: {
      type: 'integer', minimum: 0, maximum: MAX_DELAY_WINDOW_MINUTES,
      description: 'start at a random moment within this many minutes after `deliverAfter` (or now), so that a fleet is not changed all at once; with a window, drawn within what is left of its opening',
    },
    window: ref('WindowName'),
  }, [], 'Give `commands` (or a single `updateCommand`).'),

  // Events
  EventTicket: object({
    ticket: text('opens one GET /events stream, once (`?ticket=`), on this node'),
    expiresAt: ms('when it stops being accepted'),
  }, ['ticket', 'expiresAt']),
  ...Object.fromEntries(Object.values(EVENT_SCHEMAS)),
  ProcenvEvent: { oneOf: Object.values(EVENT_SCHEMAS).map(([name]) => ref(name)), description: 'Any journaled event; `type` tells which.' },
  StreamReset: object({
    id: count('where the stream goes on from'),
    type: { const: 'reset' },
    at: ms('when it was sent'),
    reason: text('why: the id asked for is no longer kept'),
  }, ['id', 'type', 'at', 'reason'], 'Stream only: the Last-Event-ID asked for is older than the journal keeps; read the state again.'),
  StreamClosing: object({
    type: { const: 'closing' },
    reason: text('too far behind, session ended, service stopping'),
  }, ['type', 'reason'], 'Stream only, without id: the stream ends now; reconnect with Last-Event-ID.'),
  StreamMessage: {
    oneOf: [ref('ProcenvEvent'), ref('StreamReset'), ref('StreamClosing')],
    description: 'The JSON of one `data:` line of GET /events.',
  },

  // Generations
  GenerationPosition: object({
    number: { type: 'integer', minimum: 1, description: 'the generation\'s number on that node' },
    hash: ref('GenerationHash'),
  }, ['number', 'hash'], 'Where a node\'s environment stands: its newest generation.'),
  GenerationHash: {
    type: 'string', pattern: '^[0-9a-f]{64}$',
    description: 'sha256 (hex) of the package set: one JSON line per package sorted by name (README "Generations"); equal hashes, equal sets',
  },
  GenerationPackage: object({
    name: text('as the manager spells it'),
    version: text('the installed version'),
    build: text('conda: the build string'),
    channel: text('conda: the channel (`pypi` for what pip installed)'),
    requested: { type: 'boolean', description: 'pip: asked for by name (true) or came in as a dependency (false); absent when unknown' },
  }, ['name', 'version']),
  GenerationSummary: object(generationProperties, generationRequired, 'A generation without its packages.'),
  Generation: object({
    ...generationProperties,
    packages: { type: 'array', items: ref('GenerationPackage'), description: 'the whole package set, in hash order' },
  }, [...generationRequired, 'packages'], 'A generation with its whole package set: the manifest.'),
  PackageChange: object({
    name: text('the package'),
    from: text('its version in `from`'),
    to: text('its version in `to`'),
    requested: { type: 'boolean', description: 'in `to`: asked for by name, or a dependency (false)' },
    fromBuild: text('conda'),
    toBuild: text('conda'),
    fromChannel: text('conda'),
    toChannel: text('conda'),
  }, ['name', 'from', 'to']),
  // The fleet
  Hold: object({
    processorName: text('the processor'),
    package: text('the package, as it was named'),
    key: text('the package\'s identity (pip: PEP 503 normalised)'),
    reason: text('why it is held'),
    userId: text('who placed the hold'),
    createdAt: ms('when'),
    version: text('the version installed when the hold was placed'),
  }, ['processorName', 'package', 'key', 'reason', 'userId', 'createdAt'], 'A package no change may upgrade, downgrade or remove.'),
  CreateBatch: object({
    processors: { oneOf: [{ type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 200 } }, { enum: ['all'] }], description: 'processor names, or "all": every processor you can read (those you cannot write are listed as refused)' },
    action: { enum: ['upgrade-all', 'security', 'install', 'upgrade', 'remove'] },
    packages: { type: 'array', maxItems: 50, items: { type: 'string' }, description: 'install, upgrade, remove: "name" or "name==version" (remove: names only)' },
    removeDependencies: { type: 'boolean', description: 'remove: also remove the dependencies nothing else installed needs (never a held package or one asked for itself)' },
    deliverAfter: { type: 'string', format: 'date-time', description: 'no operation starts before this time' },
    deliverDelayWindowMinutes: { type: 'integer', minimum: 0, description: 'each operation starts at a random moment within this many minutes after deliverAfter' },
    window: text('the maintenance window the operations wait for'),
  }, ['processors', 'action']),
  BatchResult: object({
    processor: text('the processor'),
    operationId: text('the operation queued for it (the first, when there are several)'),
    operationIds: { type: 'array', items: { type: 'string' }, description: 'when its part needed more than one operation' },
    commands: { type: 'array', items: { type: 'string' }, description: 'the commands queued' },
    skipped: text('why nothing was queued though you may change it'),
    refused: ref('OperationError'),
    held: { type: 'array', items: { type: 'string' }, description: 'packages left alone because they are held' },
    notInstalled: { type: 'array', items: { type: 'string' }, description: 'packages named that are not installed there' },
    unfixable: { type: 'array', items: { type: 'string' }, description: 'security: packages no version clears' },
    orphans: { type: 'array', items: { type: 'string' }, description: 'removeDependencies: the dependencies removed with the packages' },
  }, ['processor']),
  Batch: object({
    batchId: text('the batch\'s id'),
    userId: text('who made it'),
    createdAt: ms('when'),
    action: { enum: ['upgrade-all', 'security', 'install', 'upgrade', 'remove'] },
    processors: { oneOf: [{ type: 'array', items: { type: 'string' } }, { enum: ['all'] }] },
    packages: { type: 'array', items: object({ name: text('package'), version: text('version') }, ['name']) },
    removeDependencies: { type: 'boolean' },
    schedule: object({ deliverAfter: ms('not before'), deliverDelayWindowMinutes: count('minutes of random delay'), window: text('maintenance window') }, [], 'when its operations may start, as asked'),
    results: { type: 'array', items: ref('BatchResult') },
    cancelledAt: ms('when it was cancelled'),
    cancelledBy: text('who cancelled it'),
    progress: object({
      total: count('processors in the results'), queued: count('processors with an operation'), skipped: count('processors with nothing to do'),
      refused: count('processors refused'),
      byStatus: object(Object.fromEntries(['CREATED', 'RUNNING', 'DONE', 'ERROR', 'STOPPED'].map((s) => [s, count(`operations ${s}`)])), ['CREATED', 'RUNNING', 'DONE', 'ERROR', 'STOPPED']),
      finished: { type: 'boolean', description: 'no operation of the batch is queued or running' },
    }, ['total', 'queued', 'skipped', 'refused', 'byStatus', 'finished']),
    operations: {
      type: 'array', items: object({
        processor: text('the processor'), operationId: text('the operation'), status: { enum: ['CREATED', 'RUNNING', 'DONE', 'ERROR', 'STOPPED'] },
        error: ref('OperationError'),
        notBefore: ms('a scheduled operation: its planned start'), window: text('a scheduled operation: its maintenance window'),
        nodes: { type: 'array', items: object({ nodeCode: text('compute node'), state: { enum: [...DELIVERY_STATES] } }, ['nodeCode', 'state']) },
      }, ['processor', 'operationId', 'status']),
    },
  }, ['batchId', 'userId', 'createdAt', 'action', 'processors', 'packages', 'removeDependencies', 'results', 'progress', 'operations']),
  ProcessorUpdates: object({
    processor: text('the processor'),
    type: text('its type'),
    manager: { enum: ['pip', 'conda'] },
    checkedAt: { type: 'string', format: 'date-time', description: 'when packagesInfo.json was last written: the last check of newer versions' },
    counts: object({ security: count('security updates'), regular: count('other updates') }, ['security', 'regular']),
    updates: {
      type: 'array', items: object({
        package: text('the package'), current: text('installed version'), available: text('the newest version known (or the fixed version)'),
        type: { enum: ['security', 'regular'] },
        advisories: { type: 'array', items: { type: 'string' }, description: 'security: the advisories the update clears' },
        fixedVersion: text('security: the lowest version that clears them all'),
      }, ['package', 'current', 'available', 'type']),
    },
  }, ['processor', 'type', 'manager', 'counts', 'updates']),
  CheckUpdates: object({ processors: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 200 } } }, []),
  CheckUpdatesResult: object({
    results: { type: 'array', items: object({ processor: text('the processor'), operationId: text('the refresh queued'), refused: ref('OperationError') }, ['processor']) },
  }, ['results']),
  PutHold: object({ reason: { type: 'string', minLength: 1, maxLength: 500, description: 'why the package is held' } }, ['reason']),
  // Schedules
  WindowName: { type: 'string', pattern: WINDOW_NAME.source, description: 'a maintenance window\'s name' },
  WeeklySchedule: object({
    days: { type: 'array', minItems: 1, items: { enum: [...WEEKDAYS] }, description: 'the days it opens on' },
    time: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'the local time it opens at (24 h)' },
  }, ['days', 'time'], 'Opens on these days at this local time.'),
  WindowSchedule: {
    oneOf: [
      { type: 'string', maxLength: 200, examples: ['0 2 * * 6,0', '30 1 1 * *'], description: 'a 5-field cron expression (minute hour day-of-month month day-of-week), read in the window\'s time zone' },
      ref('WeeklySchedule'),
    ],
  },
  PutWindow: object({
    schedule: ref('WindowSchedule'),
    durationMinutes: { type: 'integer', minimum: 1, maximum: MAX_WINDOW_MINUTES, description: 'how long each opening lasts (real minutes, also across a DST change)' },
    timezone: { type: 'string', examples: ['Europe/Rome', 'UTC'], description: 'an IANA time zone' },
  }, ['schedule', 'durationMinutes', 'timezone']),
  Window: object({
    name: ref('WindowName'),
    schedule: ref('WindowSchedule'),
    cron: text('the cron expression it stands for'),
    durationMinutes: { type: 'integer', minimum: 1, maximum: MAX_WINDOW_MINUTES },
    timezone: text('the IANA time zone, as Intl names it'),
    userId: text('who last set it'),
    createdAt: ms('when it was created'),
    updatedAt: ms('when it was last set'),
    open: { type: 'boolean', description: 'whether it is open now' },
    openUntil: ms('open now: when this opening closes'),
    nextOpening: ms('its next opening after now'),
    nextClosing: ms('when that opening closes'),
  }, ['name', 'schedule', 'cron', 'durationMinutes', 'timezone', 'userId', 'createdAt', 'updatedAt', 'open'], 'A maintenance window, with where it stands now.'),
  PackageSummaryRow: object({
    manager: { enum: ['pip', 'conda'] },
    type: text('the processor type (as processor.json has it)'),
    processors: count('processors of this manager and type you can read'),
    totalPackages: count('packages installed, summed over those processors'),
    uniquePackages: count('distinct package names among them'),
    outdatedPackages: count('packages with a newer version known (pip\'s outdated), summed'),
    heldPackages: count('held packages that are installed, summed'),
  }, ['manager', 'type', 'processors', 'totalPackages', 'uniquePackages', 'outdatedPackages', 'heldPackages']),
  PackageSearchRow: object({
    name: text('as the first processor that has it spells it'),
    manager: { enum: ['pip', 'conda'] },
    installed: {
      type: 'array', description: 'where it is installed, by processor name',
      items: object({ processor: text('the processor'), version: text('the version there') }, ['processor', 'version']),
    },
    upgradable: {
      type: 'array', description: 'where a newer version is known',
      items: object({ processor: text('the processor'), version: text('the version there'), latest: text('the newer version') }, ['processor', 'version', 'latest']),
    },
    held: { type: 'array', description: 'where it is held', items: object({ processor: text('the processor') }, ['processor']) },
  }, ['name', 'manager', 'installed', 'upgradable', 'held'], 'One package name of one manager across the processors you can read.'),
  PackageSearchCount: object({
    total: count('matching package names'),
    byManager: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 }, description: 'matches per manager' },
    byType: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 }, description: 'matches installed on processors of each type' },
  }, ['total', 'byManager', 'byType']),
  PlanChanges: object({
    added: { type: 'array', items: ref('GenerationPackage') },
    removed: { type: 'array', items: ref('GenerationPackage') },
    upgraded: { type: 'array', items: ref('PackageChange') },
    downgraded: { type: 'array', items: ref('PackageChange') },
    changed: { type: 'array', items: ref('PackageChange'), description: 'versions that cannot be ordered, or another build or channel' },
    orphaned: { type: 'array', items: ref('GenerationPackage'), description: 'removals: dependencies nothing left would need (they stay installed)' },
  }, ['added', 'removed', 'upgraded', 'downgraded', 'changed', 'orphaned'], 'What a plan would do to the package set, dependencies included.'),
  Plan: object({
    planId: text('execute it with POST /plans/{planId}/execute'),
    processorName: text('the processor'),
    manager: { enum: ['pip', 'conda'] },
    commands: { type: 'array', items: { type: 'string' }, description: 'the canonical update commands it runs (a restore\'s are exact pins)' },
    generation: { type: 'integer', minimum: 1, description: 'the generation it was computed on' },
    hash: ref('GenerationHash'),
    resultHash: { ...ref('GenerationHash'), description: 'a restore: the hash the environment will have afterwards' },
    exact: { type: 'boolean', description: 'exact pins installed without dependencies (a restore)' },
    restoreOf: { type: 'integer', minimum: 1, description: 'a restore: the generation it brings back' },
    changes: ref('PlanChanges'),
    createdBy: text('who made it'),
    createdAt: ms('when it was made'),
    expiresAt: ms('when it can no longer be executed'),
  }, ['planId', 'processorName', 'manager', 'commands', 'generation', 'hash', 'exact', 'changes', 'createdBy', 'createdAt', 'expiresAt'],
  'The change a list of commands (or a restore) would make, from the manager\'s own dry run, and the generation it was made on.'),
  SubmitPlan: object({
    commands: { type: 'array', minItems: 1, maxItems: 50, items: ref('UpdateCommand'), description: 'the commands to plan, in order' },
  }, ['commands']),
  GenerationDiff: object({
    from: { type: 'integer', minimum: 1 },
    to: { type: 'integer', minimum: 1 },
    fromHash: ref('GenerationHash'),
    toHash: ref('GenerationHash'),
    added: { type: 'array', items: ref('GenerationPackage'), description: 'in `to` only' },
    removed: { type: 'array', items: ref('GenerationPackage'), description: 'in `from` only' },
    upgraded: { type: 'array', items: ref('PackageChange') },
    downgraded: { type: 'array', items: ref('PackageChange') },
    changed: { type: 'array', items: ref('PackageChange'), description: 'versions that cannot be ordered, or the same version in another build or channel' },
  }, ['from', 'to', 'fromHash', 'toHash', 'added', 'removed', 'upgraded', 'downgraded', 'changed']),

  // Cluster
  NodeView: object({
    nodeCode: text('the compute node'),
    nodeBaseAddress: { type: 'string', format: 'uri', description: 'its base URL, without the credentials it may carry' },
    active: { type: 'boolean' },
    reachable: { type: 'boolean', description: 'its last ping (reused for cluster.statusCacheSeconds) answered' },
    checkedAt: ms('when reachability was checked'),
    lastContact: ms('when it last answered a node-to-node call of this process'),
    pendingDeliveries: count('deliveries waiting to be sent to it'),
    failedDeliveries: count('deliveries that failed for it'),
    error: text('why the ping failed'),
  }, ['nodeCode', 'nodeBaseAddress', 'active', 'reachable', 'checkedAt', 'pendingDeliveries', 'failedDeliveries']),
  FailingLine: object({
    index: count('history line'),
    line: text('the line'),
    message: text('the package manager\'s (or procenv\'s) message'),
    attempts: count('failed catch-ups in a row at this line'),
    retryAt: ms('when the next catch-up may start'),
  }, ['index', 'line', 'message', 'attempts', 'retryAt']),
  SkippedLine: object({ index: count('history line'), line: text('the line'), reason: text('why it is never run') }, ['index', 'line', 'reason']),
  ProcessorNodeView: object({
    nodeCode: text('the compute node'),
    state: { enum: [...NODE_STEPS] },
    applied: count('history lines of `epoch` the node applied'),
    epoch: text('the history epoch the node is in'),
    syncing: { type: 'boolean', description: 'a catch-up is in flight' },
    lastSyncAt: ms('its last comparison of the history'),
    error: text('unreachable: why; otherwise the node\'s last sync error'),
    failing: ref('FailingLine'),
    skipped: { type: 'array', items: ref('SkippedLine') },
    generation: { ...ref('GenerationPosition'), description: 'the node\'s newest generation of the processor, as it reports it' },
    drifted: { type: 'boolean', description: 'its package set differs from the main node\'s (present when both have a generation)' },
  }, ['nodeCode', 'state']),
  ProcessorNodes: object({
    processor: ref('ProcessorName'),
    epoch: text('the main node\'s history epoch'),
    lines: count('the main node\'s history length'),
    generation: { ...ref('GenerationPosition'), description: 'the main node\'s newest generation of the processor' },
    drifted: { type: 'array', items: { type: 'string' }, description: 'the compute nodes whose package set differs from the main node\'s, whatever their place in the history' },
    nodes: { type: 'array', items: ref('ProcessorNodeView') },
  }, ['processor', 'epoch', 'lines', 'drifted', 'nodes']),
  ClusterPing: object({ nodeCode: text('the answering node') }, ['nodeCode']),
  ClusterHistory: object({
    nodeCode: text('the main node'),
    epoch: text('the history epoch'),
    lines: { type: 'array', items: { type: 'string' }, description: 'envActionsList.txt, trimmed, empty lines dropped' },
    from: count('the first line whose origin was looked up'),
    origins: {
      type: 'object', propertyNames: { pattern: '^[0-9]+$' }, additionalProperties: { type: 'string' },
      description: 'line index → the main node\'s operation that wrote it (lines written by something else have none)',
    },
    holds: { type: 'array', items: ref('Hold'), description: 'the processor\'s holds, which compute nodes follow' },
  }, ['nodeCode', 'epoch', 'lines', 'from', 'origins']),
  SyncState: object({
    processorName: ref('ProcessorName'),
    epoch: text('the main node\'s history epoch (`""` before the first sync)'),
    applied: count('lines of that epoch applied here'),
    lastSyncAt: ms('the last comparison'),
    lastError: text('the last sync error'),
    syncOperationId: text('the catch-up operation in flight'),
    syncTarget: count('the history length that catch-up reaches'),
    syncLines: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'the history index of each of its commands' },
    skipped: { type: 'array', items: ref('SkippedLine') },
    failing: ref('FailingLine'),
    generation: { ...ref('GenerationPosition'), description: 'this node\'s newest generation of the processor (absent: none yet)' },
  }, ['processorName', 'epoch', 'applied'], 'A compute node\'s position in one processor\'s history on the main node, and its newest generation.'),
  DeliveryReport: object({
    status: { enum: ['DONE', 'ERROR', 'STOPPED'], description: 'how the compute node\'s operation ended (DONE: applied; anything else: failed)' },
    remoteOperationId: text('the compute node\'s operation'),
    error: { type: 'string', description: 'its error, cut at 1,000 characters' },
  }, ['status']),
  DeliveryRecorded: object({ recorded: { type: 'boolean', description: 'false: no such delivery, or it had already moved on' } }, ['recorded']),

  // Catalog
  FolderProblem: object({
    folder: text('the processor folder\'s name'),
    file: text('`processor.json`, `packagesInfo.json`, `envActionsList.txt`, `environment`, or `""` for the folder itself'),
    reason: text('why it is refused'),
    since: ms('when procenv first saw this reason'),
  }, ['folder', 'file', 'reason', 'since']),

  // Operators
  Health: object({ status: { const: 'ok' } }, ['status']),
  Ready: object({ status: { const: 'ready' } }, ['status']),
  NotReady: object({
    status: { const: 'not ready' },
    failing: { type: 'array', minItems: 1, items: { enum: ['store', 'processorsFolder', 'worker'] } },
  }, ['status', 'failing']),

  // The panel's reads
  Me: object({
    userId: text('the signed-in user'),
    admin: { type: 'boolean' },
    mainNode: { type: 'boolean', description: 'this node is the main node (the history, reset and the cluster views live there)' },
    nodeCode: text('this node'),
  }, ['userId', 'admin', 'mainNode', 'nodeCode']),
  LastOperation: object({
    processObjId: text('the operation'),
    status: ref('OperationStatus'),
    at: ms('its last change of status (its end once ended)'),
    commands: { type: 'array', items: ref('UpdateCommand') },
    userId: text('who asked for it'),
    error: ref('OperationError'),
  }, ['processObjId', 'status', 'at', 'commands', 'userId']),
  ProcessorSummary: object({
    name: ref('ProcessorName'),
    processorId: text('its id'),
    type: text('WASDI\'s processor type'),
    manager: { enum: ['pip', 'conda', null], description: 'null: a type without a package manager' },
    owner: text('processor.userId'),
    isPublic: { type: 'boolean' },
    canWrite: { type: 'boolean', description: 'the caller may change it (environmentupdate, reset, cancel)' },
    packages: { type: ['integer', 'null'], minimum: 0, description: 'packages in packagesInfo.json: 0 without one, null when it cannot be read' },
    outdated: { type: ['integer', 'null'], minimum: 0, description: 'of those, with a newer version' },
    packagesError: { ...ref('OperationError'), description: 'why packagesInfo.json cannot be read' },
    lastOperation: { oneOf: [ref('LastOperation'), { type: 'null' }] },
  }, ['name', 'processorId', 'type', 'manager', 'owner', 'isPublic', 'canWrite', 'packages', 'outdated', 'lastOperation'],
  'A processor the caller can read, as the panel lists it.'),
};
