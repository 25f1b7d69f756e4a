@testable import ArchwayCore
import Foundation
@testable import Providers
import Testing

/// What archway sends when a status it computed no longer has a field the object's status has: a
/// merge patch keeps every field it does not mention, so a field archway stopped reporting (the
/// challenges an ACMEIssuer is done with) must be sent as null, or it stays forever and every later
/// comparison finds a difference to write again.
struct StatusPatchTests {
    static func json(_ value: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }

    @Test func aFieldNoLongerReportedIsSentAsNullAtEveryDepth() {
        let merging = StatusMerge(controllerName: "archway.dev/gateway-controller", keepsOthersConditions: false)
        let existing: [String: Any] = ["account": "https://ca/acct/1", "challenges": [["name": "app.example.test"]],
                                       "certificates": [["secret": "default/app-tls", "state": "Pending"]], "nested": ["kept": 1, "gone": 2]]
        let merged: [String: Any] = ["account": "https://ca/acct/1", "certificates": [["secret": "default/app-tls", "state": "Issued"]],
                                     "nested": ["kept": 1]]
        let patch = merging.patch(merged, over: existing)
        #expect(Self.json(patch) == Self.json([
            "account": "https://ca/acct/1", "challenges": NSNull(), "certificates": [["secret": "default/app-tls", "state": "Issued"]],
            "nested": ["kept": 1, "gone": NSNull()],
        ] as [String: Any]))
        // Applied as the API server applies a merge patch, it leaves exactly the computed status.
        #expect(Self.json(FakeAPIServer.mergePatch(existing, patch)) == Self.json(merged))
    }

    @Test func aServiceKeepsWhatOthersWroteInItsStatus() {
        let merging = StatusMerge(controllerName: "archway.dev/gateway-controller", keepsOthersConditions: true)
        let existing: [String: Any] = ["loadBalancer": ["ingress": [["ip": "10.0.0.1"]]], "conditions": [["type": "Theirs"]]]
        let merged: [String: Any] = ["loadBalancer": ["ingress": [["ip": "10.0.0.2"]]]]
        #expect(Self.json(merging.patch(merged, over: existing)) == Self.json(merged))
    }

    /// The labels archway puts on the Secrets it writes so that `--secret-label-selector` still selects them.
    @Test func secretsArchwayWritesCarryTheLabelsTheSelectorAsksFor() {
        #expect(KubernetesMode.equalityTerms(of: "tier=edge, env in (prod, staging),has-certs,!legacy,zone!=b,team==web,x notin (y)")
                == ["tier": "edge", "env": "prod", "has-certs": "", "team": "web"])
        #expect(KubernetesMode.equalityTerms(of: nil).isEmpty)
    }
}
