import Foundation

/// The upstream UDPRoute conformance tests' manifests, verbatim (without their Deployments).
extension UpstreamStreamConformanceTests {
    static let udpRouteParentRefAttachAllListenersManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: udp-echo-attach-all
  namespace: gateway-conformance-infra
  labels:
    app: udp-echo-attach-all
spec:
  selector:
    app: udp-echo-attach-all
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: udp-attach-all-listeners-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: udp-1
      protocol: UDP
      port: 5310
      allowedRoutes:
        kinds:
          - kind: UDPRoute
    - name: udp-2
      protocol: UDP
      port: 5311
      allowedRoutes:
        kinds:
          - kind: UDPRoute
    - name: udp-3
      protocol: UDP
      port: 5312
      allowedRoutes:
        kinds:
          - kind: UDPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-route-attach-all
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-attach-all-listeners-gateway
  rules:
    - backendRefs:
        - name: udp-echo-attach-all
          port: 8080
"""#

    static let udpRouteParentRefPortAndSectionNameManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: udp-echo-by-port
  namespace: gateway-conformance-infra
  labels:
    app: udp-echo-by-port
spec:
  selector:
    app: udp-echo-by-port
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: udp-echo-by-section
  namespace: gateway-conformance-infra
  labels:
    app: udp-echo-by-section
spec:
  selector:
    app: udp-echo-by-section
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: udp-echo-by-section-and-port
  namespace: gateway-conformance-infra
  labels:
    app: udp-echo-by-section-and-port
spec:
  selector:
    app: udp-echo-by-section-and-port
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: udp-multi-listener-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: by-port
      protocol: UDP
      port: 5300
      allowedRoutes:
        kinds:
          - kind: UDPRoute
    - name: by-section
      protocol: UDP
      port: 5301
      allowedRoutes:
        kinds:
          - kind: UDPRoute
    - name: by-section-and-port
      protocol: UDP
      port: 5302
      allowedRoutes:
        kinds:
          - kind: UDPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-route-by-port
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-multi-listener-gateway
      port: 5300
  rules:
    - backendRefs:
        - name: udp-echo-by-port
          port: 8080
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-route-by-section
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-multi-listener-gateway
      sectionName: by-section
  rules:
    - backendRefs:
        - name: udp-echo-by-section
          port: 8080
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-route-by-section-and-port
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-multi-listener-gateway
      sectionName: by-section-and-port
      port: 5302
  rules:
    - backendRefs:
        - name: udp-echo-by-section-and-port
          port: 8080
"""#

    static let udpRouteWeightedRoutingManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: udp-backend-v1
  namespace: gateway-conformance-infra
  labels:
    app: udp-backend-v1
spec:
  selector:
    app: udp-backend-v1
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: udp-backend-v2
  namespace: gateway-conformance-infra
  labels:
    app: udp-backend-v2
spec:
  selector:
    app: udp-backend-v2
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: udp-backend-v3
  namespace: gateway-conformance-infra
  labels:
    app: udp-backend-v3
spec:
  selector:
    app: udp-backend-v3
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: udp-weighted-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: udp
      protocol: UDP
      port: 5300
      allowedRoutes:
        kinds:
          - kind: UDPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-weighted-route
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-weighted-gateway
      sectionName: udp
  rules:
    - backendRefs:
        - name: udp-backend-v1
          port: 8080
          weight: 70
        - name: udp-backend-v2
          port: 8080
          weight: 30
        - name: udp-backend-v3
          port: 8080
          weight: 0
"""#

    static let udpRouteReferenceGrantManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: udp-echo-reference-grant
  namespace: gateway-conformance-app-backend
  labels:
    app: udp-echo-reference-grant
spec:
  selector:
    app: udp-echo-reference-grant
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata:
  name: udp-reference-grant
  namespace: gateway-conformance-app-backend
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: UDPRoute
      namespace: gateway-conformance-infra
  to:
    - group: ""
      kind: Service
      name: udp-echo-reference-grant
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: udp-gateway-reference-grant
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: udp
      protocol: UDP
      port: 5300
      allowedRoutes:
        kinds:
          - kind: UDPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udp-route-reference-grant
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-gateway-reference-grant
      sectionName: udp
  rules:
    - backendRefs:
        - name: udp-echo-reference-grant
          namespace: gateway-conformance-app-backend
          port: 8080
"""#

    static let udpRouteMultipleRoutesAttachmentManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: udp-attach-backend-1
  namespace: gateway-conformance-infra
  labels:
    app: udp-attach-backend-1
spec:
  selector:
    app: udp-attach-backend-1
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: udp-attach-backend-2
  namespace: gateway-conformance-infra
  labels:
    app: udp-attach-backend-2
spec:
  selector:
    app: udp-attach-backend-2
  ports:
    - name: udp
      protocol: UDP
      port: 8080
      targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: udp-multi-route-attach-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: udp
      protocol: UDP
      port: 5301
      allowedRoutes:
        kinds:
          - kind: UDPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udproute-attach-older
  creationTimestamp: "2026-01-01T00:00:00Z"
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: udp-multi-route-attach-gateway
      sectionName: udp
  rules:
    - backendRefs:
        - name: udp-attach-backend-1
          port: 8080
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata:
  name: udproute-attach-newer
  namespace: gateway-conformance-infra
  creationTimestamp: "2026-01-01T00:00:01Z"
spec:
  parentRefs:
  - name: udp-multi-route-attach-gateway
    sectionName: udp
  rules:
  - backendRefs:
    - name: udp-attach-backend-2
      port: 8080
"""#
}
