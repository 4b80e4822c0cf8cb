import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { type OperationProgress, progressQueryName, undeleteUpdateName } from '../domain/operations';

export const progressQuery = defineQuery<OperationProgress>(progressQueryName);

/** Takes back a delete during its grace period; the argument is who asked. */
export const undeleteUpdate = defineUpdate<void, [string]>(undeleteUpdateName);
