import type { Fault } from '../faults.ts';
import { escapeXml, requestId, xml, type Response } from '../http.ts';

/**
 * Each AWS service's own error document: EC2's <Response><Errors>, STS's <ErrorResponse>, S3's bare <Error>, and the
 * JSON 1.1 protocol's `{"__type", "message"}` with the `x-amzn-errortype` header (Cost Explorer).
 */
export type AwsService = 'ec2' | 'sts' | 's3' | 'ce';

export function awsError(service: AwsService, status: number, code: string, message: string): Response {
  const id = requestId();
  if (service === 'ce') {
    return {
      status,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': id, 'x-amzn-errortype': `${code}:http://internal.amazon.com/coral/com.amazon.coral.service/` },
      body: JSON.stringify({ __type: code, message }),
    };
  }
  const msg = escapeXml(message);
  if (service === 'ec2') {
    return xml(status, `<Response><Errors><Error><Code>${code}</Code><Message>${msg}</Message></Error></Errors><RequestID>${id}</RequestID></Response>`);
  }
  if (service === 'sts') {
    const type = status >= 500 ? 'Receiver' : 'Sender';
    return xml(status, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${msg}</Message></Error><RequestId>${id}</RequestId></ErrorResponse>`);
  }
  return xml(status, `<Error><Code>${code}</Code><Message>${msg}</Message><RequestId>${id}</RequestId><HostId>${Buffer.from(id).toString('base64')}</HostId></Error>`, { 'x-amz-request-id': id });
}

/** The answer AWS gives when the credentials are not accepted, per service. */
export function authError(service: AwsService, accessKeyId: string): Response {
  if (service === 'ec2') return awsError('ec2', 401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
  if (service === 'sts') return awsError('sts', 403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
  if (service === 'ce') return awsError('ce', 400, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  return awsError('s3', 403, 'InvalidAccessKeyId', `The AWS Access Key Id you provided does not exist in our records. (${accessKeyId})`);
}

export function faultResponse(service: AwsService, fault: Fault, accessKeyId: string): Response {
  switch (fault.kind) {
    case 'auth':
      return authError(service, accessKeyId);
    case 'throttle':
      if (service === 'ec2') return awsError('ec2', 503, 'RequestLimitExceeded', 'Request limit exceeded.');
      if (service === 'sts') return awsError('sts', 400, 'Throttling', 'Rate exceeded');
      if (service === 'ce') return awsError('ce', 400, 'LimitExceededException', 'You made too many calls in a short period of time. Try again later.');
      return awsError('s3', 503, 'SlowDown', 'Please reduce your request rate.');
    default: {
      const status = fault.status ?? 503;
      if (service === 'ec2') {
        return status === 503
          ? awsError('ec2', 503, 'Unavailable', 'The service is unavailable. Please try again shortly.')
          : awsError('ec2', status, 'InternalError', 'An internal error has occurred');
      }
      if (service === 'sts') return awsError('sts', status, status === 503 ? 'ServiceUnavailable' : 'InternalFailure', 'Service is unavailable');
      if (service === 'ce') {
        return awsError('ce', status, status === 503 ? 'ServiceUnavailableException' : 'InternalFailure', status === 503 ? 'Service is unavailable' : 'The request processing has failed because of an unknown error, exception or failure.');
      }
      return awsError('s3', status, status === 503 ? 'ServiceUnavailable' : 'InternalError', 'We encountered an internal error. Please try again.');
    }
  }
}
