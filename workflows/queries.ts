import { defineQuery } from '@temporalio/workflow';
import { type OperationProgress, progressQueryName } from '../domain/operations';

export const progressQuery = defineQuery<OperationProgress>(progressQueryName);
