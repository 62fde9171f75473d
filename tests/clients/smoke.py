"""A client the way a fintech integrator would write it: Python grpcio,
discovering the API by server reflection (v1alpha, what grpcio-reflection
speaks), checking health, then creating a party, an earning, a repatriation
and a step through messages built from the reflected descriptors.

Usage: python smoke.py HOST:PORT [BEARER_TOKEN]
"""

import sys
import uuid

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase


class Bearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor, grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call."""

    def __init__(self, token: str) -> None:
        self.metadata = (("authorization", f"Bearer {token}"),)

    def _with_token(self, details):
        return details._replace(metadata=tuple(details.metadata or ()) + self.metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._with_token(details), requests)


def main(target: str, token: str | None) -> None:
    channel = grpc.insecure_channel(target)
    if token:
        # Without the token the API refuses to talk.
        try:
            grpc.insecure_channel(target).unary_unary("/repat.v1.PartyService/ListParties")(b"", timeout=10)
            raise AssertionError("a call without a token was served")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e
        channel = grpc.intercept_channel(channel, Bearer(token))
    health = health_pb2_grpc.HealthStub(channel)
    status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status
    assert status == health_pb2.HealthCheckResponse.SERVING, status

    reflection = ProtoReflectionDescriptorDatabase(channel)
    services = set(reflection.get_services())
    for expected in ("repat.v1.PartyService", "repat.v1.EarningService", "repat.v1.RepatriationService", "grpc.health.v1.Health"):
        assert expected in services, (expected, services)
    pool = descriptor_pool.DescriptorPool(reflection)

    def call(method: str, body: dict) -> dict:
        service, name = method.rsplit("/", 1)
        m = pool.FindServiceByName(service).FindMethodByName(name)
        req_cls = message_factory.GetMessageClass(m.input_type)
        resp_cls = message_factory.GetMessageClass(m.output_type)
        stub = channel.unary_unary(
            f"/{method}", request_serializer=req_cls.SerializeToString, response_deserializer=resp_cls.FromString
        )
        return json_format.MessageToDict(stub(json_format.ParseDict(body, req_cls()), timeout=10))

    party = call(
        "repat.v1.PartyService/CreateParty",
        {"requestId": str(uuid.uuid4()), "party": {"kind": "PARTY_KIND_FREELANCER", "legalName": "Nusrat Jahan", "country": "BD"}},
    )
    earning = call(
        "repat.v1.EarningService/CreateEarning",
        {
            "requestId": str(uuid.uuid4()),
            "earning": {
                "partyId": party["id"],
                "clientName": "Acme Inc",
                "clientCountry": "US",
                "serviceCategory": "SERVICE_CATEGORY_ITES",
                "amount": {"amount": "1250.00", "currency": "USD"},
                "invoiceDate": {"year": 2023, "month": 4, "day": 10},
                "invoiceReference": "UPW-2023-0410",
                "marketplace": "Upwork",
            },
        },
    )
    rep = call(
        "repat.v1.RepatriationService/CreateRepatriation",
        {"requestId": str(uuid.uuid4()), "partyId": party["id"], "allocations": [{"earningId": earning["id"]}], "channel": "CHANNEL_PLATFORM"},
    )
    call(
        "repat.v1.RepatriationService/RecordStep",
        {"requestId": str(uuid.uuid4()), "step": {"repatriationId": rep["id"], "kind": "STEP_KIND_PAYMENT_INITIATED", "occurredAt": "2023-04-28T08:00:00Z"}},
    )
    done = call(
        "repat.v1.RepatriationService/RecordStep",
        {
            "requestId": str(uuid.uuid4()),
            "step": {"repatriationId": rep["id"], "kind": "STEP_KIND_BENEFICIARY_CREDITED", "occurredAt": "2023-05-02T10:30:00Z",
                     "amount": {"amount": "1250.00", "currency": "USD"}},
        },
    )
    assert done["status"] == "REPATRIATION_STATUS_FUNDS_AVAILABLE", done
    got = call("repat.v1.RepatriationService/GetRepatriation", {"id": rep["id"]})
    assert got["durations"]["initiationToFundsAvailable"] == "354600s", got["durations"]
    print("python client: reflection v1alpha, health, tokens and the journey API work")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
