import Foundation

/// The upstream TCPRoute conformance tests' manifests, verbatim (without their Deployments).
extension UpstreamStreamConformanceTests {
    static let tcpRouteParentRefAttachAllManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo-attach-all
  namespace: gateway-conformance-infra
  labels:
    app: tcp-echo-attach-all
spec:
  selector:
    app: tcp-echo-attach-all
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-attach-all-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: one
      protocol: TCP
      port: 9310
      allowedRoutes:
        kinds:
          - kind: TCPRoute
    - name: two
      protocol: TCP
      port: 9311
      allowedRoutes:
        kinds:
          - kind: TCPRoute
    - name: three
      protocol: TCP
      port: 9312
      allowedRoutes:
        kinds:
          - kind: TCPRoute
    - name: four
      protocol: TCP
      port: 9313
      allowedRoutes:
        kinds:
          - kind: TCPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-route-attach-all
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-attach-all-gateway
  rules:
    - backendRefs:
        - name: tcp-echo-attach-all
          port: 3000
"""#

    static let tcpRouteParentRefPortAndSectionNameManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo-one
  namespace: gateway-conformance-infra
  labels:
    app: tcp-echo-one
spec:
  selector:
    app: tcp-echo-one
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo-two
  namespace: gateway-conformance-infra
  labels:
    app: tcp-echo-two
spec:
  selector:
    app: tcp-echo-two
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo-three
  namespace: gateway-conformance-infra
  labels:
    app: tcp-echo-three
spec:
  selector:
    app: tcp-echo-three
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-multi-listener-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: one
      protocol: TCP
      port: 9300
      allowedRoutes:
        kinds:
          - kind: TCPRoute
    - name: two
      protocol: TCP
      port: 9301
      allowedRoutes:
        kinds:
          - kind: TCPRoute
    - name: three
      protocol: TCP
      port: 9302
      allowedRoutes:
        kinds:
          - kind: TCPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-route-by-port
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-multi-listener-gateway
      port: 9300
  rules:
    - backendRefs:
        - name: tcp-echo-one
          port: 3000
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-route-by-section
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-multi-listener-gateway
      sectionName: two
  rules:
    - backendRefs:
        - name: tcp-echo-two
          port: 3000
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-route-by-section-and-port
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-multi-listener-gateway
      sectionName: three
      port: 9302
  rules:
    - backendRefs:
        - name: tcp-echo-three
          port: 3000
"""#

    static let tcpRouteWeightedRoutingManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: tcp-backend-v1
  namespace: gateway-conformance-infra
  labels:
    app: tcp-backend-v1
spec:
  selector:
    app: tcp-backend-v1
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: tcp-backend-v2
  namespace: gateway-conformance-infra
  labels:
    app: tcp-backend-v2
spec:
  selector:
    app: tcp-backend-v2
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: tcp-backend-v3
  namespace: gateway-conformance-infra
  labels:
    app: tcp-backend-v3
spec:
  selector:
    app: tcp-backend-v3
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-weighted-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: tcp
      protocol: TCP
      port: 9300
      allowedRoutes:
        kinds:
          - kind: TCPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-weighted-route
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-weighted-gateway
      sectionName: tcp
  rules:
    - backendRefs:
        - name: tcp-backend-v1
          port: 3000
          weight: 70
        - name: tcp-backend-v2
          port: 3000
          weight: 30
        - name: tcp-backend-v3
          port: 3000
          weight: 0
"""#

    static let tcpRouteReferenceGrantManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: tcp-reference-grant-backend
  namespace: gateway-conformance-web-backend
  labels:
    app: tcp-reference-grant-backend
spec:
  selector:
    app: tcp-reference-grant-backend
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata:
  name: tcp-reference-grant
  namespace: gateway-conformance-web-backend
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: TCPRoute
      namespace: gateway-conformance-infra
  to:
    - group: ""
      kind: Service
      name: tcp-reference-grant-backend
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-reference-grant-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: tcp
      protocol: TCP
      port: 9320
      allowedRoutes:
        kinds:
          - kind: TCPRoute
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcp-reference-grant
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-reference-grant-gateway
      sectionName: tcp
  rules:
    - backendRefs:
        - name: tcp-reference-grant-backend
          namespace: gateway-conformance-web-backend
          port: 3000
"""#

    static let tcpRouteMultipleRoutesAttachmentManifest = #"""
apiVersion: v1
kind: Service
metadata:
  name: tcp-attach-backend-1
  namespace: gateway-conformance-infra
  labels:
    app: tcp-attach-backend-1
spec:
  selector:
    app: tcp-attach-backend-1
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: tcp-attach-backend-2
  namespace: gateway-conformance-infra
  labels:
    app: tcp-attach-backend-2
spec:
  selector:
    app: tcp-attach-backend-2
  ports:
    - name: tcp
      protocol: TCP
      port: 3000
      targetPort: 3000
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: tcp-multi-route-attach-gateway
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: archway
  listeners:
    - name: tcp
      protocol: TCP
      port: 9310
      allowedRoutes:
        kinds:
          - kind: TCPRoute
            group: gateway.networking.k8s.io
        namespaces:
          from: Same
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcproute-attach-older
  creationTimestamp: "2026-01-01T00:00:00Z"
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: tcp-multi-route-attach-gateway
      sectionName: tcp
  rules:
    - backendRefs:
        - name: tcp-attach-backend-1
          port: 3000
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata:
  name: tcproute-attach-newer
  namespace: gateway-conformance-infra
  creationTimestamp: "2026-01-01T00:00:01Z"
spec:
  parentRefs:
  - name: tcp-multi-route-attach-gateway
    sectionName: tcp
  rules:
  - backendRefs:
    - name: tcp-attach-backend-2
      port: 3000
"""#
}
