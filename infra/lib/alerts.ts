import { ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { EMAIL } from './validation.ts';

export interface ReplicatorAlertsProps {
  /** Subscribed to the topic (the address must confirm the subscription). */
  readonly alarmEmail?: string;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The SNS topic operators subscribe to, and the alarms that publish to it: a failed execution of any
 * state machine (a verify run that found differences fails its execution, so it is told once, by
 * that alarm), and a verify schedule that could not start its run. The topic is encrypted with a
 * customer managed key because CloudWatch alarms cannot publish to a topic under the AWS managed SNS key.
 */
export class ReplicatorAlerts extends Construct {
  public readonly key: kms.Key;
  public readonly topic: sns.Topic;
  public readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ReplicatorAlertsProps) {
    super(scope, id);
    if (props.alarmEmail !== undefined && !Token.isUnresolved(props.alarmEmail) && !EMAIL.test(props.alarmEmail)) {
      throw new Error(
        `ReplicatorAlerts: alarmEmail "${props.alarmEmail}" is not an e-mail address; pass one, or leave it out.`,
      );
    }
    this.key = new kms.Key(this, 'Key', {
      description: 'database-replicator: encrypts the alarm topic',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // CloudWatch alarms publish to the topic, so they must be able to use its key.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'database-replicator alarms',
      masterKey: this.key,
      enforceSSL: true,
    });
    // The topic policy replaces the default one: the alarms of this account and region may publish.
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
  }

  /** Alarms when an execution of `stateMachine` fails, times out or is aborted. */
  public alarmOnFailedExecutions(
    id: string,
    stateMachine: sfn.IStateMachine,
    what: string,
    detail = '',
  ): cloudwatch.Alarm {
    const metric = new cloudwatch.MathExpression({
      // A period without executions has no data points: FILL makes it 0 instead of no value.
      expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)',
      usingMetrics: {
        failed: stateMachine.metricFailed({ period: Duration.minutes(5) }),
        timedOut: stateMachine.metricTimedOut({ period: Duration.minutes(5) }),
        aborted: stateMachine.metricAborted({ period: Duration.minutes(5) }),
      },
      label: `${what} executions that did not succeed`,
      period: Duration.minutes(5),
    });
    return this.addAlarm(
      id,
      metric,
      `An execution of the ${what} workflow failed${detail}: open it in the Step Functions console for the failed state and its cause.`,
    );
  }

  /** Alarms while `queue` holds a message: EventBridge Scheduler could not start what a schedule names. */
  public alarmOnDeadLetters(id: string, queue: sqs.IQueue, what: string): cloudwatch.Alarm {
    const metric = queue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(5),
      statistic: cloudwatch.Stats.MAXIMUM,
    });
    return this.addAlarm(
      id,
      metric,
      `${what} could not be started: its message in the dead-letter queue says why (often the scheduler role or the target).`,
    );
  }

  private addAlarm(id: string, metric: cloudwatch.IMetric, description: string): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      alarmDescription: `database-replicator: ${description}`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }
}
